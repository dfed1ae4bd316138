"""The workspace heading a deliverables page is written out by hand; it must stay what
its declared fields (the OpenAPI schema) render."""

from rest_framework import serializers

from deliverables.serializers import WorkspaceSerializer


def test_the_workspace_renders_as_its_fields(workspace):
    serializer = WorkspaceSerializer()
    fields = dict(serializers.Serializer.to_representation(serializer, workspace))
    assert serializer.to_representation(workspace) == fields
