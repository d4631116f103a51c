"""Smart charging: charging profiles (limits) set on charging sessions, asked for, and reported."""
