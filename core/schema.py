"""The OpenAPI schema documents, on every operation, the errors it can answer with."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

from core.api import ErrorSerializer

# 400 bad input, 401 no or bad credentials, 403 role, 404 not yours or missing,
# 405/406 method or Accept not served, 409 illegal transition, 413 body too large,
# 415 not JSON, 429 throttled or budget spent, 503 model or database unavailable.
ERROR_CODES = (400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 503)


class AutoSchema(SpectacularAutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in map(str, ERROR_CODES):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, direction=direction
                )
        return responses
