"""A deliverable's raw content shown as readable text while its display is not ready:
keys as labels and headings, lists as bullets, text as paragraphs, never raw JSON,
every piece escaped."""

from deliverables.readable import label, readable_source


def test_top_level_keys_become_headings_over_their_values():
    html = readable_source({"summary": "Teams lose six hours a week.", "owner": "Product"})

    assert html == (
        "<h3>Summary</h3><p>Teams lose six hours a week.</p><h3>Owner</h3><p>Product</p>"
    )


def test_lists_become_bullets_and_records_one_labelled_line_each():
    html = readable_source(
        {
            "pains": ["Repeated AI spend", "No review trail"],
            "plans": [{"name": "Team", "eur_per_month": 99}],
        }
    )

    assert "<h3>Pains</h3><ul><li>Repeated AI spend</li><li>No review trail</li></ul>" in html
    assert (
        '<li><span class="label">Name:</span> Team · '
        '<span class="label">Eur per month:</span> 99</li>'
    ) in html


def test_nested_values_are_labelled_lines_under_a_smaller_heading():
    html = readable_source({"market_size_eur": {"tam": 4200000000, "region": {"eu": True}}})

    assert html == (
        "<h3>Market size eur</h3>"
        '<p><span class="label">Tam:</span> 4,200,000,000</p>'
        '<h4>Region</h4><p><span class="label">Eu:</span> yes</p>'
    )


def test_text_keeps_its_paragraphs_and_a_list_at_the_top_is_bullets():
    assert readable_source("First.\n\nSecond.") == "<p>First.</p><p>Second.</p>"
    assert readable_source([2025, None]) == "<ul><li>2025</li><li>none</li></ul>"


def test_markup_in_keys_and_values_is_escaped_text():
    html = readable_source({"<b>key</b>": "<script>alert('x')</script>", "list": ["<img>"]})

    assert "<script>" not in html and "<img>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;img&gt;" in html


def test_labels_read_as_words():
    assert label("buying_trigger") == "Buying trigger"
    assert label("annualDiscountPercent") == "Annual discount percent"
    assert label("ROI") == "ROI"
    assert label("som-eur") == "Som eur"
