"""Import every domain's seed module so that its seeders register."""

from app.auth import seeds as auth_seeds  # noqa: F401
