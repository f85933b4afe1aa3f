import pytest


@pytest.mark.django_db
def test_home_sends_anonymous_visitors_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")


def test_viewer_sees_only_the_sections_a_viewer_may_open(viewer_client):
    page = viewer_client.get("/").content.decode()
    assert "Campaigns" in page and "Stats" in page
    assert "Audience" not in page and "API credentials" not in page
