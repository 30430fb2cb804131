def test_lozere_point(engine):
    result = engine.locate_point(44.518, 3.501)
    assert [c["code"] for c in result["candidates"]] == ["48-01"]
