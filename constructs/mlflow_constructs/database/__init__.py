"""The PostgreSQL database behind MLflow's tracking and registry stores: bundled, CloudNativePG or external."""
