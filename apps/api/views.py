from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.roles import public


@public
@csrf_exempt
def upload(request):
    return JsonResponse({"status": "fail", "error": "not implemented", "code": 500}, status=501)


@public
def profile_detail(request):
    return JsonResponse({"status": "fail", "error": "not implemented", "code": 500}, status=501)
