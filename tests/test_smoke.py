def test_health_reports_database_ok(anon_api, db):
    response = anon_api.get("/api/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
