"""Orchestrator adapters: Docker host, Docker Swarm, Kubernetes and Vagrant."""
