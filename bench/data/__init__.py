"""Datasets as tensors on a device, forget specifications (what to forget, four scenarios) and augmentation."""
