"""Artifact stores: a PVC, S3 (or any S3-compatible endpoint), bundled MinIO, Azure Blob or GCS."""
