"""Reviewing synthesized output: what a change does to a live cluster (``python app.py diff``) and what an
environment deploys and needs (``python app.py explain``, ``docs/environments/``).

Every module here works on plain Kubernetes objects (lists of dicts as read from ``dist/``) and never
imports cdk8s: ``objects``, ``facts`` (what changed), ``rules`` (what it means: the rule table), ``diff`` (one
verdict per object), ``render``, ``topology`` (what an environment is made of), ``explain`` (its Markdown
page) and ``diagram`` (its Mermaid flowchart) are pure functions, ``baseline`` reads the previous output (a
directory or a git revision), and ``commands`` runs them on a fresh synthesis (through
``mlflow_constructs.synth``) for the command line (``mlflow_constructs.cli``).
"""
