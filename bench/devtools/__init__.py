"""Checks for developers: the layer rules the package keeps."""
