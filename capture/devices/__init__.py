"""Real device drivers: the only modules that import gphoto2 and serial."""
