"""Shapes of the account routes' bodies, for the OpenAPI schema and for rendering.

Input bodies of the OpenPAI family are validated with Joi's rules (``dataplatform.api.joi``) so that error
texts match upstream; these serializers describe them for the schema only.
"""

from rest_framework import serializers


class OpenPAIAuthInputSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[_A-Za-z0-9]+$")
    password = serializers.CharField(min_length=6)
    expiration = serializers.IntegerField(min_value=60, max_value=604800, required=False, default=86400)
    admin = serializers.BooleanField(required=False)
    modify = serializers.BooleanField(required=False)


class OpenPAIAuthRemoveInputSerializer(serializers.Serializer):
    username = serializers.CharField()


class OpenPAITokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    user = serializers.CharField()


class OpenPAIV1TokenOutputSerializer(OpenPAITokenOutputSerializer):
    admin = serializers.BooleanField()


class OpenPAIMessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class OpenPAIErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()


class OpenPAIV1ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class OpenPAIV1UserOutputSerializer(serializers.Serializer):
    username = serializers.CharField()
    admin = serializers.BooleanField(source="is_admin")
    virtualCluster = serializers.CharField(source="virtual_clusters")  # noqa: N815 - wire name


class OpenPAIV1VirtualClustersInputSerializer(serializers.Serializer):
    virtualClusters = serializers.CharField(allow_blank=True)  # noqa: N815 - wire name


class LinkisLoginInputSerializer(serializers.Serializer):
    userName = serializers.CharField()  # noqa: N815 - wire name
    password = serializers.CharField()
