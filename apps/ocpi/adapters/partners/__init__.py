"""Partner dialects: each module registers adapter subclasses under its own profile name."""
