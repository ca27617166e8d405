"""WindFlow's shared kernel: settings and the error hierarchy every layer uses."""
