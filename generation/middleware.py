from generation.hits import hit_batch


class HitCounterMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with hit_batch():
            return self.get_response(request)
