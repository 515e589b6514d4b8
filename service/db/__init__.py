"""Engine, sessions, the embedded server and migrations."""
