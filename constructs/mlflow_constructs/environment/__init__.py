"""The front end: one environment file (``config/<env>.yaml``) composed from the constructs."""
