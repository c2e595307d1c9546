"""The neighborhood service network: service points as managed things (kind, position, status with
its history), the remote windows assigned to serve them, their live screens, and catalog changes
reaching every running instance without a restart."""
