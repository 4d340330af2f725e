"""Shared helpers for core Kubernetes objects: names and labels, restricted pod specs, typed L1 objects."""
