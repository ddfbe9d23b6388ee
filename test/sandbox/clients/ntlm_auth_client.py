"""One NTLM handshake with python ntlm_auth's NtlmContext at a chosen LM compatibility level, on one connection.

Usage: ntlm_auth_client.py HOST PORT CA_FILE DOMAIN USER PASSWORD BODY_FILE LEVEL
(LEVEL 0-2: LM and NTLM v1 responses; 3: NTLM v2.) The host name is reached at 127.0.0.1, TLS verified.
Prints JSON: the length of the NT response sent, the statuses, and the WWW-Authenticate of the last answer.
"""
import base64
import http.client
import json
import socket
import ssl
import struct
import sys

from cryptography.hazmat.backends import default_backend
from ntlm_auth.ntlm import NtlmContext

# hashlib on OpenSSL 3 has no MD4 until OpenSSL's legacy provider is loaded. The cryptography package loads it when
# its backend starts, as it does inside requests_ntlm (which reads the server certificate with it) before ntlm_auth
# hashes a password; here nothing else starts it.
default_backend()

host, port, ca, domain, user, password, body_file, level = sys.argv[1:9]
body = open(body_file, 'rb').read()
context = ssl.create_default_context(cafile=ca)
connection = http.client.HTTPSConnection(host, int(port), context=context)
connection.sock = context.wrap_socket(socket.create_connection(('127.0.0.1', int(port))), server_hostname=host)
ntlm = NtlmContext(user, password, domain, ntlm_compatibility=int(level))
headers = {'Content-Type': 'text/xml; charset=utf-8'}
statuses = []


def post(token):
    connection.request('POST', '/EWS/Exchange.asmx', body=body, headers={**headers, 'Authorization': 'NTLM ' + base64.b64encode(token).decode()})
    response = connection.getresponse()
    response.read()
    statuses.append(response.status)
    return response


offers = post(ntlm.step()).msg.get_all('WWW-Authenticate') or []
challenge = next(value for value in offers if value.startswith('NTLM '))
authenticate = ntlm.step(base64.b64decode(challenge.split(' ', 1)[1]))
nt_length = struct.unpack('<H', authenticate[20:22])[0]
final = post(authenticate)
print(json.dumps({'ntResponseLength': nt_length, 'statuses': statuses, 'final': final.msg.get_all('WWW-Authenticate') or []}))
