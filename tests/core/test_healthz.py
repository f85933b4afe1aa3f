import pytest


@pytest.mark.slow
def test_healthz_is_ok_with_database_broker_and_a_live_worker(client, celery_worker):
    response = client.get("/healthz")
    report = response.json()
    assert response.status_code == 200
    assert report["status"] == "ok"
    assert report["checks"]["database"]["vendor"] == "postgresql"
    assert report["checks"]["broker"]["transport"] == "redis"
    assert report["checks"]["worker"]["workers"]


@pytest.mark.django_db
def test_healthz_answers_503_naming_the_worker_when_none_is_running(client):
    response = client.get("/healthz")
    report = response.json()
    assert response.status_code == 503
    assert report["status"] == "fail"
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["worker"]["ok"] is False
    assert "no Celery worker" in report["checks"]["worker"]["error"]


@pytest.mark.django_db
def test_healthz_needs_no_login_and_is_never_cached(client):
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert response["Content-Type"] == "application/json"
