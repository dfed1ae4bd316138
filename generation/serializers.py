from rest_framework import serializers

from generation.models import Generation


class GenerationSerializer(serializers.ModelSerializer):
    content = serializers.JSONField(read_only=True)

    class Meta:
        model = Generation
        fields = [
            "id",
            "kind",
            "scope",
            "context_hash",
            "status",
            "provider",
            "model",
            "attempts",
            "text",
            "result",
            "content",
            "error",
            "created_at",
            "updated_at",
            "completed_at",
            "expires_at",
        ]
        read_only_fields = fields
