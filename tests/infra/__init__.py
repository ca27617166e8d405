"""Real engines for integration tests: Docker (and single-node swarm), a Kubernetes control
plane and Vagrant's docker provider, each started in a private directory, bound to
127.0.0.1 or a unix socket, and removed afterwards. Install with tests/setup-engines.sh;
use through the fixtures of :mod:`tests.infra.fixtures`."""
