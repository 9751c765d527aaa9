"""The kiseki server: ``create_app(settings)`` builds a stateless FastAPI app over a store."""
