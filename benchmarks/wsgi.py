"""WSGI entry point of a benchmark site (DJANGO_SETTINGS_MODULE names the site)."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
