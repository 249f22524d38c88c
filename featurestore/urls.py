"""HTTP routes of this app, included by the project under its API family's prefix."""

urlpatterns: list = []
