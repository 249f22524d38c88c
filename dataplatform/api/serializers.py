"""Envelope shapes shared by views of several apps, for the OpenAPI schema."""

from rest_framework import serializers


class LinkisEnvelopeSerializer(serializers.Serializer):
    method = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="-1 not logged in, 0 ok, 1 error, 2 validation failed, 3 no access")
    message = serializers.CharField()
    data = serializers.DictField()
