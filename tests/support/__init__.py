"""What tests share besides fixtures: helpers that drive the service, servers, reference checks."""
