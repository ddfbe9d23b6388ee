"""Signs in to the sandbox with requests_ntlm (HttpNtlmAuth, its default configuration) and posts one EWS request.

Usage: requests_ntlm_client.py URL CA_FILE USER PASSWORD BODY_FILE [COUNT]
Host names are mapped to 127.0.0.1 inside this process only, as curl's --resolve does; TLS stays verified.
Prints one JSON line per request: status, the WWW-Authenticate answers seen, and the start of the body.
"""
import json
import socket
import sys

import requests
from requests_ntlm import HttpNtlmAuth

_getaddrinfo = socket.getaddrinfo


def _loopback(host, port, *args, **kwargs):
    return _getaddrinfo('127.0.0.1', port, *args, **kwargs)


socket.getaddrinfo = _loopback

url, ca, user, password, body_file = sys.argv[1:6]
count = int(sys.argv[6]) if len(sys.argv) > 6 else 1
body = open(body_file, 'rb').read()
session = requests.Session()
session.auth = HttpNtlmAuth(user, password)
for _ in range(count):
    response = session.post(url, data=body, headers={'Content-Type': 'text/xml; charset=utf-8'}, verify=ca)
    seen = [r.headers.get('WWW-Authenticate', '') for r in response.history]
    print(json.dumps({'status': response.status_code, 'challenges': seen, 'body': response.text[:5000]}), flush=True)
