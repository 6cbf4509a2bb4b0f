"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi …``."""

from dotenv import load_dotenv

from webapp import create_app

load_dotenv()  # a .env beside this file, if any (see .env.example); real env vars win
app = create_app()
