"""A test client that behaves like a browser: it reads the CSRF token from each form page."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.people.demo import DEMO_PASSWORD
from tests.totp import complete_second_factor

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TASK_LINK = re.compile(r'href="/tasks/(\d+)">([^<]+)</a>')


class Browser:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.username: str | None = None

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def csrf_token(self, url: str) -> str:
        page = self.client.get(url)
        match = CSRF.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on {url} (status {page.status_code})"
        return match.group(1)

    def submit(self, url: str, data: dict[str, Any], form_page: str | None = None) -> TestResponse:
        """Open the form page, then post to ``url`` with the page's CSRF token."""
        token = self.csrf_token(form_page or url)
        return self.client.post(url, data={**data, "csrf_token": token})

    def login(self, username: str, password: str = DEMO_PASSWORD) -> TestResponse:
        response = self.submit("/login", {"username": username, "password": password})
        assert response.status_code == 302, f"login as {username} failed: {response.status_code}"
        if response.location.endswith("/login/totp"):
            # Roles that need a second factor: the code step, done as a person would.
            response = complete_second_factor(self, username)
            assert response.status_code in (200, 302), f"second factor for {username} failed"
        self.username = username
        return response

    def logout(self) -> None:
        token = self.csrf_token("/")
        self.client.post("/logout", data={"csrf_token": token})
        self.username = None

    def inbox_tasks(self) -> dict[str, int]:
        """Task name → task id of the first task with that name in my inbox."""
        page = self.get("/inbox")
        assert page.status_code == 200, page.status_code
        found: dict[str, int] = {}
        for task_id, name in TASK_LINK.findall(page.get_data(as_text=True)):
            found.setdefault(name, int(task_id))
        return found

    def text(self, url: str) -> str:
        return self.get(url).get_data(as_text=True)
