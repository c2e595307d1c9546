"""HTTP transport: thin handlers around the engine, problem+json errors, auth and OpenAPI."""
