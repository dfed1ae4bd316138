"""Rendering a prompt version with its inputs."""


def test_a_prompt_renders_inputs_as_they_are_not_html_escaped(db):
    from generation.prompts import render_prompt
    from tests.builders import make_prompt

    prompt = make_prompt(key="raw", template="Idea: {{ idea }}", instructions="Be {{ tone }}.")

    instructions, text = render_prompt(
        prompt=prompt, inputs={"idea": "<b>R&D</b> 'fast'", "tone": "terse & kind"}
    )

    assert text == "Idea: <b>R&D</b> 'fast'"
    assert instructions == "Be terse & kind."
