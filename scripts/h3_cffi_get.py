from curl_cffi import requests
r = requests.get("https://127.0.0.1:4433/x", http_version="v3only", verify=False, timeout=5)
print(r.status_code, r.http_version, r.content[:80])
r = requests.post("https://127.0.0.1:4433/x", data=b"abc", http_version="v3only", verify=False, timeout=5)
print(r.status_code, r.http_version, r.content[:80])
