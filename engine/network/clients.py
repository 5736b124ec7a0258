"""What the network clients in a container print: curl, busybox wget, GNU wget and nslookup.

The pod shell (`engine.kubectl.shell`) hands each of these its argv; the request itself goes through
`traffic.request` (DNS, kube-proxy, NetworkPolicy, the listening container), so what is printed is
what the simulated network did. `net` is the Simulation, or an `engine.network.view.NetworkView`
when the caller has only the store.

Where the output goes depends on the terminal, as on a real one: with a TTY (`kubectl exec -it`)
stdout and stderr reach the screen interleaved in the order written, so `Run.stdout` gets both; without
one they stay apart. The versions imitated are those of the images the catalog knows: curl 7.88.1
(Debian bookworm: nginx, httpd), busybox 1.37 (busybox, alpine), GNU wget 1.16 (node-hello's jessie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from engine.network import dns, http, traffic

CURL_VERSION = "7.88.1"
CURL_TRY = "curl: try 'curl --help' or 'curl --manual' for more information\n"
SSL_HELP = ("More details here: https://curl.se/docs/sslcerts.html\n\n"
            "curl failed to verify the legitimacy of the server and therefore could not\n"
            "establish a secure connection to it. To learn more about this situation and\n"
            "how to fix it, please visit the web page mentioned above.\n")
KERNEL_CONNECT_TIMEOUT_S = 130.0  # Linux gives up on an unanswered SYN after ~130 s (tcp_syn_retries=6)


@dataclass
class Run:
    """What a client program did: its output, exit code and the files it wrote (path as given -> text)."""

    stdout: str = ""
    stderr: str = ""
    code: int = 0
    files: dict[str, str] = field(default_factory=dict)


class _Output:
    """Chunks in the order written, each to stdout or stderr; merged when both go to one TTY."""

    def __init__(self, tty: bool):
        self.tty = tty
        self.chunks: list[tuple[int, str]] = []

    def out(self, text: str) -> None:
        self.chunks.append((1, text))

    def err(self, text: str) -> None:
        self.chunks.append((2, text))

    def done(self, code: int, files: dict[str, str] | None = None) -> Run:
        if self.tty:
            return Run("".join(t for _, t in self.chunks), "", code, files or {})
        return Run("".join(t for s, t in self.chunks if s == 1), "".join(t for s, t in self.chunks if s == 2), code,
                   files or {})


class Usage(Exception):
    """A command line the program rejects (message, exit code)."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.message, self.code = message, code


def _options(argv: list[str], with_value: dict[str, str], flags: dict[str, str], unknown) -> tuple[dict[str, list[str]], list[str]]:
    """getopt-style parsing: `-sSo file`, `-ofile`, `--output file`, `--output=file`. Long names map to
    the short letter (or the long name itself) they mean."""
    found: dict[str, list[str]] = {}
    words: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            words += argv[i:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in with_value:
                if not eq:
                    if i >= len(argv):
                        raise unknown(arg, missing=True)
                    value, i = argv[i], i + 1
                found.setdefault(with_value[name], []).append(value)
            elif name in flags:
                found.setdefault(flags[name], []).append("")
            else:
                raise unknown(arg)
            continue
        if not arg.startswith("-") or arg == "-":
            words.append(arg)
            continue
        letters = arg[1:]
        for j, letter in enumerate(letters):
            if letter in with_value:
                value = letters[j + 1:]
                if not value:
                    if i >= len(argv):
                        raise unknown("-" + letter, missing=True)
                    value, i = argv[i], i + 1
                found.setdefault(with_value[letter], []).append(value)
                break
            if letter in flags:
                found.setdefault(flags[letter], []).append("")
            else:
                raise unknown("-" + letter)
    return found, words


def _http_date(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def _header_lines(resp: traffic.Response) -> list[str]:
    """The response head as the server sends it (status line first, headers in the server's order)."""
    status = resp.status or 0
    lines = [f"HTTP/1.1 {status} {http.REASONS.get(status, '')}".rstrip()]
    headers = dict(resp.headers or {})
    date = f"Date: {_http_date(resp.flow['time'])}"
    if headers.get("Transfer-Encoding") == "chunked":  # Node's http: Date, Connection, Transfer-Encoding
        return lines + [date, "Connection: keep-alive", "Transfer-Encoding: chunked"]
    server = headers.pop("Server", None)
    if server:
        lines.append(f"Server: {server}")
    lines.append(date)
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(resp.body.encode())}")
    lines.append("Connection: keep-alive")
    return lines


# --- curl --------------------------------------------------------------------------------------------------
_CURL_VALUES = {"o": "o", "output": "o", "X": "X", "request": "X", "H": "H", "header": "H", "m": "m",
                "max-time": "m", "connect-timeout": "connect-timeout", "d": "d", "data": "d", "data-raw": "d",
                "A": "A", "user-agent": "A", "w": "w", "write-out": "w", "u": "u", "user": "u",
                "retry": "retry", "e": "e", "referer": "e"}
_CURL_FLAGS = {"s": "s", "silent": "s", "S": "S", "show-error": "S", "i": "i", "include": "i", "I": "I",
               "head": "I", "f": "f", "fail": "f", "L": "L", "location": "L", "k": "k", "insecure": "k",
               "v": "v", "verbose": "v", "4": "4", "ipv4": "4", "N": "N", "no-buffer": "N",
               "compressed": "compressed", "O": "O", "remote-name": "O"}


def _curl_unknown(arg: str, missing: bool = False) -> Usage:
    if missing:
        return Usage(f"curl: option {arg}: requires parameter\n{CURL_TRY}", 2)
    return Usage(f"curl: option {arg}: is unknown\n{CURL_TRY}", 2)


def _size5(n: float) -> str:
    """curl's max5data: a size in five columns."""
    n = int(n)
    mb = 1024 * 1024
    if n < 100000:
        return f"{n:5d}"
    if n < 10000 * 1024:
        return f"{n // 1024:4d}k"
    if n < 100 * mb:
        return f"{n // mb:2d}.{(n % mb) // (mb // 10):1d}M"
    return f"{n // mb:4d}M"


def _time8(seconds: float) -> str:
    s = int(seconds)
    if s <= 0:
        return "--:--:--"
    return f"{s // 3600:2d}:{s % 3600 // 60:02d}:{s % 60:02d}"


METER_HEAD = ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
              "                                 Dload  Upload   Total   Spent    Left  Speed\n"
              "\r  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0")


def _curl_meter_end(received: int, latency_ms: float, complete: bool) -> str:
    """The last update of curl's progress meter (on a non-terminal stderr: `kubectl exec` without -t, or -o).
    A failed transfer leaves the line unended, so curl's error follows on it (`...     0curl: (6) ...`)."""
    spent = _time8(latency_ms / 1000)
    if not complete:
        return f"\r  0     0    0     0    0     0      0      0 --:--:-- {spent} --:--:--     0"
    speed = _size5(received / max(latency_ms / 1000, 1e-6))
    return (f"\r100 {_size5(received)}  100 {_size5(received)}    0     0  {speed}      0 --:--:-- {spent} "
            f"--:--:-- {speed}\n")


def _verbose_request(resp: traffic.Response, headers: dict) -> str:
    req = resp.flow["request"]
    default = 443 if req["scheme"] == "https" else 80
    host = req["host"] if req["port"] == default else f"{req['host']}:{req['port']}"
    lines = [f"{req['method']} {req['path']} HTTP/1.1", f"Host: {headers.get('Host', host)}",
             f"User-Agent: curl/{CURL_VERSION}", "Accept: */*"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k != "Host"]
    return "".join(f"> {line}\r\n" for line in lines) + "> \r\n"


def _verbose_failure(resp: traffic.Response, message: str, limit_s: float | None) -> str:
    """What -v tells about a connection that did not get an answer, before curl's error line."""
    flow, req = resp.flow, resp.flow["request"]
    if flow.get("reason") == "unresolved":
        return f"* Could not resolve host: {req['host']}\n* Closing connection 0\n"
    ip, port = flow.get("dest_ip") or req["host"], req["port"]
    text = f"*   Trying {ip}:{port}...\n"
    outcome = flow["outcome"]
    if outcome in ("refused", "no-endpoints"):
        text += f"* connect to {ip} port {port} failed: Connection refused\n"
    elif outcome in ("timeout", "dropped-by-policy"):
        if limit_s is not None and limit_s < KERNEL_CONNECT_TIMEOUT_S:
            return text + f"* {message.split(') ', 1)[1]}\n* Closing connection 0\n"
        text += f"* connect to {ip} port {port} failed: Connection timed out\n"
    else:  # connected, and the request went out before the server hung up
        text += f"* Connected to {req['host']} ({ip}) port {port} (#0)\n" + _verbose_request(resp, {})
    return text + f"* {message.split(') ', 1)[1]}\n* Closing connection 0\n"


def _write_out(fmt: str, resp: traffic.Response) -> str:
    values = {"http_code": f"{resp.status or 0:03d}", "response_code": f"{resp.status or 0:03d}",
              "remote_ip": resp.flow.get("dest_ip") or "", "remote_port": str(resp.flow["request"]["port"]),
              "time_total": f"{resp.flow['latency_ms'] / 1000:.6f}", "size_download": str(len(resp.body.encode())),
              "url_effective": resp.flow["request"]["url"]}
    out = fmt.replace("\\n", "\n").replace("\\t", "\t")
    for key, value in values.items():
        out = out.replace("%{" + key + "}", value)
    return out


def _curl_failure(resp: traffic.Response, limit_s: float | None) -> tuple[int, str]:
    # A SYN nobody answers: the kernel gives up after ~130 s unless curl's own limit comes first.
    timed_out = resp.flow["outcome"] in ("timeout", "dropped-by-policy")
    if timed_out and limit_s is not None and limit_s < KERNEL_CONNECT_TIMEOUT_S:
        return 28, f"curl: (28) Connection timed out after {int(limit_s * 1000) + 1} milliseconds"
    message = http.curl_error(resp)
    code = int(message.split("(", 1)[1].split(")", 1)[0]) if message.startswith("curl: (") else 7
    return code, message


def curl(net, pod: dict, argv: list[str], *, tty: bool) -> Run:
    """`curl [options] URL...` from `pod`."""
    out = _Output(tty)
    try:
        opts, urls = _options(argv, _CURL_VALUES, _CURL_FLAGS, _curl_unknown)
    except Usage as exc:
        out.err(exc.message)
        return out.done(exc.code)
    if not urls:
        out.err(f"curl: no URL specified!\n{CURL_TRY}")
        return out.done(2)
    silent, show_error, verbose = "s" in opts, "S" in opts, "v" in opts
    method = (opts.get("X") or ["HEAD" if "I" in opts else ("POST" if "d" in opts else "GET")])[-1]
    headers = {k.strip(): v.strip() for k, _, v in (h.partition(":") for h in opts.get("H", []) if ":" in h)}
    limits = [float(v) for v in opts.get("m", []) + opts.get("connect-timeout", []) if _number(v)]
    limit_s = min(limits) if limits else None
    to_file = opts.get("o", [None])[-1]
    # The meter is drawn unless -s, or unless the body goes to the terminal it would be drawn on.
    meter = not silent and (not tty or to_file is not None) and to_file != "-"
    files: dict[str, str] = {}
    code = 0
    for url in urls:
        if meter:
            out.err(METER_HEAD)
        resp = traffic.request(net, pod, url, method=method, headers=headers,
                               timeout_ms=None if limit_s is None else limit_s * 1000)
        flow = resp.flow

        def fail(message: str, detail: str, latency_ms: float) -> None:
            if verbose:
                out.err(detail)
            if meter:
                out.err(_curl_meter_end(0, latency_ms, complete=False))
            if not silent or show_error:
                out.err(message + "\n")

        if not resp.ok:
            code, message = _curl_failure(resp, limit_s)
            fail(message, _verbose_failure(resp, message, limit_s), flow["latency_ms"])
            continue
        req = flow["request"]
        connected = (f"*   Trying {flow.get('dest_ip') or req['host']}:{req['port']}...\n* Connected to {req['host']} "
                     f"({flow.get('dest_ip') or req['host']}) port {req['port']} (#0)\n")
        if req["scheme"] == "https" and "k" not in opts:
            problem = "self-signed certificate" if flow.get("entry") == "ingress" else \
                "unable to get local issuer certificate"
            code = 60
            fail(f"curl: (60) SSL certificate problem: {problem}\n{SSL_HELP}".rstrip("\n"),
                 connected + f"* SSL certificate problem: {problem}\n* Closing connection 0\n", flow["latency_ms"])
            continue
        head = _header_lines(resp)
        if verbose:
            out.err(connected + _verbose_request(resp, headers) + "".join(f"< {line}\r\n" for line in head)
                    + "< \r\n")
        status = resp.status or 0
        if "f" in opts and status >= 400:
            code = 22
            fail(f"curl: (22) The requested URL returned error: {status}",
                 f"* The requested URL returned error: {status}\n* Closing connection 0\n", flow["latency_ms"])
            continue
        text = ""
        if "i" in opts or "I" in opts:
            text += "".join(line + "\r\n" for line in head) + "\r\n"
        if "I" not in opts:
            text += resp.body
        if to_file is not None and to_file != "-":
            files[to_file] = text
        else:
            out.out(text)
        if meter:
            out.err(_curl_meter_end(len(resp.body.encode()), flow["latency_ms"], complete=True))
        if verbose:
            out.err(f"* Connection #0 to host {req['host']} left intact\n")
        if opts.get("w"):
            out.out(_write_out(opts["w"][-1], resp))
    return out.done(code, files)


def _number(text: str) -> bool:
    try:
        return float(text) >= 0
    except ValueError:
        return False


# --- wget ----------------------------------------------------------------------------------------------------
_BUSYBOX_WGET_VALUES = {"O": "O", "output-document": "O", "T": "T", "timeout": "T", "U": "U", "user-agent": "U",
                        "header": "header", "P": "P", "Y": "Y", "o": "o", "e": "e", "t": "t", "tries": "t",
                        "post-data": "post-data"}
_BUSYBOX_WGET_FLAGS = {"q": "q", "quiet": "q", "c": "c", "continue": "c", "S": "S", "server-response": "S",
                       "s": "spider", "spider": "spider", "no-check-certificate": "k", "4": "4"}
BUSYBOX_WGET_USAGE = ("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
                      "Usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n"
                      "\t[--post-data STR | --post-file FILE] [-Y on/off]\n"
                      "\t[-P DIR] [-U AGENT] [-T SEC] URL...\n\n"
                      "Retrieve files via HTTP or FTP\n")


def _busybox_unknown(arg: str, missing: bool = False) -> Usage:
    if missing:
        return Usage(f"wget: option requires an argument -- '{arg.lstrip('-')}'\n{BUSYBOX_WGET_USAGE}", 1)
    if arg.startswith("--"):
        return Usage(f"wget: unrecognized option '{arg}'\n{BUSYBOX_WGET_USAGE}", 1)
    return Usage(f"wget: invalid option -- '{arg.lstrip('-')}'\n{BUSYBOX_WGET_USAGE}", 1)


def _output_name(url: str) -> str:
    path = urlsplit(url if "://" in url else f"http://{url}").path
    name = path.rsplit("/", 1)[-1]
    return name or "index.html"


def _busybox_bar(name: str, size: int, tty: bool) -> str:
    """busybox's progress line at the end of a download (an 80-column terminal: a 32-star bar)."""
    if size < 100000:
        amount = f"{size:5d}"
    else:
        amount = f"{size // 1024:4d}k"
    line = f"{name:<20.20} 100% |{'*' * 32}| {amount}  0:00:00 ETA\n"
    return ("\r" if tty else "") + line


def _explicit_port(url: str) -> bool:
    try:
        return urlsplit(url if "://" in url else f"http://{url}").port is not None
    except ValueError:
        return False


def busybox_wget(net, pod: dict, argv: list[str], *, tty: bool, exists=lambda path: False) -> Run:
    """busybox's `wget [-q] [-O FILE] [-T SEC] URL...` from `pod`."""
    out = _Output(tty)
    try:
        opts, urls = _options(argv, _BUSYBOX_WGET_VALUES, _BUSYBOX_WGET_FLAGS, _busybox_unknown)
    except Usage as exc:
        out.err(exc.message)
        return out.done(exc.code)
    if not urls:
        out.err(BUSYBOX_WGET_USAGE)
        return out.done(1)
    quiet = "q" in opts
    timeout_s = float(opts["T"][-1]) if opts.get("T") and _number(opts["T"][-1]) else 900.0
    headers = {k.strip(): v.strip() for k, _, v in (h.partition(":") for h in opts.get("header", []))}
    files: dict[str, str] = {}
    for url in urls:
        target = opts.get("O", [None])[-1] or _output_name(url)
        if "O" not in opts and "spider" not in opts and exists(target):
            out.err(f"wget: can't open '{target}': File exists\n")
            return out.done(1, files)
        resp = traffic.request(net, pod, url, method="POST" if opts.get("post-data") else "GET", headers=headers,
                               timeout_ms=timeout_s * 1000)
        flow = resp.flow
        req = flow["request"]
        if flow.get("reason") == "unresolved":
            out.err(f"wget: bad address '{req['host']}'\n")
            return out.done(1, files)
        # busybox keeps the URL's host part as written: `wget nginx:80` connects to "nginx:80".
        shown_host = req["host"] + (f":{req['port']}" if _explicit_port(url) else "")
        if not quiet:
            out.err(f"Connecting to {shown_host} ({flow.get('dest_ip') or req['host']}:{req['port']})\n")
        if not resp.ok:
            outcome = flow["outcome"]
            if outcome in ("timeout", "dropped-by-policy"):
                if timeout_s < KERNEL_CONNECT_TIMEOUT_S:
                    out.err("wget: download timed out\n")
                else:
                    out.err(f"wget: can't connect to remote host ({flow.get('dest_ip') or req['host']}): "
                            "Connection timed out\n")
            elif flow.get("reason") == "empty-reply":
                out.err("wget: error getting response\n")
            else:
                out.err(http.wget_error(resp) + "\n")
            return out.done(1, files)
        status = resp.status or 0
        if status >= 400 or not (200 <= status < 300 or status in (301, 302, 303, 307, 308)):
            out.err(f"wget: server returned error: HTTP/1.1 {status} {http.REASONS.get(status, '')}".rstrip() + "\n")
            return out.done(1, files)
        if "S" in opts:
            out.err("".join(f"  {line}\n" for line in _header_lines(resp)))
        if "spider" in opts:
            if not quiet:
                out.err("remote file exists\n")
            continue
        to_stdout = target == "-"
        if not quiet:
            out.err("writing to stdout\n" if to_stdout else f"saving to '{target}'\n")
        if to_stdout:
            out.out(resp.body)
        else:
            files[target] = resp.body
        if not quiet:
            out.err(_busybox_bar("-" if to_stdout else target, len(resp.body.encode()), tty))
            out.err("written to stdout\n" if to_stdout else f"'{target}' saved\n")
    return out.done(0, files)


_GNU_WGET_VALUES = {"O": "O", "output-document": "O", "T": "T", "timeout": "T", "U": "U", "user-agent": "U",
                    "header": "header", "t": "t", "tries": "t", "o": "o"}
_GNU_WGET_FLAGS = {"q": "q", "quiet": "q", "S": "S", "server-response": "S", "spider": "spider",
                   "no-check-certificate": "k", "nv": "nv", "no-verbose": "nv"}


def _gnu_unknown(arg: str, missing: bool = False) -> Usage:
    if missing:
        text = f"wget: option requires an argument -- '{arg.lstrip('-')}'\n"
    elif arg.startswith("--"):
        text = f"wget: unrecognized option '{arg}'\n"
    else:
        text = f"wget: invalid option -- '{arg.lstrip('-')}'\n"
    return Usage(text + "Usage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n", 2)


def gnu_wget(net, pod: dict, argv: list[str], *, tty: bool, exists=lambda path: False) -> Run:
    """GNU wget 1.16 (Debian jessie: node-hello) from `pod`: exit 4 for a network failure, 8 for an HTTP error."""
    out = _Output(tty)
    try:
        opts, urls = _options(argv, _GNU_WGET_VALUES, _GNU_WGET_FLAGS, _gnu_unknown)
    except Usage as exc:
        out.err(exc.message)
        return out.done(exc.code)
    if not urls:
        out.err("wget: missing URL\nUsage: wget [OPTION]... [URL]...\n\nTry `wget --help' for more options.\n")
        return out.done(1)
    quiet = "q" in opts
    timeout_s = float(opts["T"][-1]) if opts.get("T") and _number(opts["T"][-1]) else 900.0
    files: dict[str, str] = {}
    code = 0
    for url in urls:
        full = url if "://" in url else f"http://{url}"
        full = full if "/" in full.split("://", 1)[1] else full + "/"
        target = opts.get("O", [None])[-1] or _output_name(url)
        if "O" not in opts and exists(target):
            n = 1
            while exists(f"{target}.{n}"):
                n += 1
            target = f"{target}.{n}"
        resp = traffic.request(net, pod, url, timeout_ms=timeout_s * 1000)
        flow = resp.flow
        req = flow["request"]
        stamp = datetime.fromtimestamp(flow["time"], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        say = (lambda text: None) if quiet else out.err
        say(f"--{stamp}--  {full}\n")
        if flow.get("reason") == "unresolved":
            say(f"Resolving {req['host']} ({req['host']})... failed: Name or service not known.\n"
                f"wget: unable to resolve host address '{req['host']}'\n")
            code = 4
            continue
        ip = flow.get("dest_ip") or req["host"]
        if ip != req["host"]:
            say(f"Resolving {req['host']} ({req['host']})... {ip}\n")
            say(f"Connecting to {req['host']} ({req['host']})|{ip}|:{req['port']}... ")
        else:
            say(f"Connecting to {ip}:{req['port']}... ")
        if not resp.ok:
            outcome = flow["outcome"]
            if outcome in ("timeout", "dropped-by-policy"):
                say("failed: Connection timed out.\n")
            elif outcome in ("refused", "no-endpoints"):
                say("failed: Connection refused.\n")
            else:
                say("connected.\nHTTP request sent, awaiting response... No data received.\n")
            code = 4
            continue
        status = resp.status or 0
        say(f"connected.\nHTTP request sent, awaiting response... {status} {http.REASONS.get(status, '')}".rstrip()
            + "\n")
        if status >= 400:
            say(f"{stamp} ERROR {status}: {http.REASONS.get(status, '')}.\n\n")
            code = 8
            continue
        kind = (resp.headers or {}).get("Content-Type")
        size = len(resp.body.encode())
        chunked = "Transfer-Encoding" in (resp.headers or {})
        say(f"Length: {'unspecified' if chunked else size}" + (f" [{kind}]" if kind else "") + "\n")
        say(f"Saving to: '{'STDOUT' if target == '-' else target}'\n\n")
        if target == "-":
            out.out(resp.body)
        else:
            files[target] = resp.body
        rate = size / max(flow["latency_ms"] / 1000, 1e-6)
        shown = f"{rate / 1024 / 1024:.2f} MB/s" if rate >= 1024 * 1024 else f"{rate / 1024:.0f} KB/s"
        say(f"{stamp} ({shown}) - "
            + (f"written to stdout [{size}]" if target == "-" else f"'{target}' saved [{size}"
               + ("" if chunked else f"/{size}") + "]") + "\n\n")
    return out.done(code, files)


# --- nslookup ------------------------------------------------------------------------------------------------------
def nslookup(net, pod: dict, argv: list[str], image: str) -> Run:
    """`nslookup [-type=T] NAME [SERVER]` as the image's nslookup (busybox's, old busybox's, or bind's) prints it."""
    style = dns.nslookup_style(image)
    qtype = None
    words = []
    for arg in argv:
        if arg.startswith("-") and len(arg) > 1:
            name, _, value = arg[1:].partition("=")
            if name in ("type", "querytype", "query", "q", "ty") and value:
                qtype = value.upper()
            continue
        words.append(arg)
    if not words:
        if style.startswith("busybox"):
            return Run("", "BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
                           "Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]\n\n"
                           "Query DNS about HOST\n\nQUERY_TYPE: soa,ns,a,aaaa,cname,mx,txt,any\n", 1)
        return Run("", "Usage: nslookup [-opt ...] host [server]\n", 1)
    text, code = dns.nslookup(net, pod, words[0], words[1] if len(words) > 1 else None, qtype, style=style)
    return Run(text, "", code)


# --- busybox nc (the netcat 1.10 compatible one, with -z and -l) -----------------------------------------------
BUSYBOX_NC_USAGE = ("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\n"
                    "Usage: nc [OPTIONS] HOST PORT  - connect\n"
                    "nc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen\n\n"
                    "\t-e PROG\tRun PROG after connect (must be last)\n"
                    "\t-l\tListen mode, for inbound connects\n"
                    "\t-lk\tWith -e, provides persistent server\n"
                    "\t-p PORT\tLocal port\n"
                    "\t-s ADDR\tLocal address\n"
                    "\t-w SEC\tTimeout for connects and final net reads\n"
                    "\t-i SEC\tDelay interval for lines sent\n"
                    "\t-n\tDon't do DNS resolution\n"
                    "\t-u\tUDP mode\n"
                    "\t-v\tVerbose\n"
                    "\t-o FILE\tHex dump traffic\n"
                    "\t-z\tZero-I/O mode (scanning)\n")
_NC_VALUES = set("pswio")
_NC_FLAGS = set("nuvlkz")


def _nc_request(data: str) -> tuple[str, str, str, dict] | None:
    """(method, path, HTTP version, headers) of an HTTP request written to nc, or None if it is not one."""
    lines = data.replace("\r\n", "\n").split("\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    headers = {}
    for line in lines[1:]:
        if not line:
            break
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return parts[0], parts[1], parts[2], headers


def busybox_nc(net, pod: dict, argv: list[str], stdin: str | None) -> Run:
    """busybox `nc [-vz] [-w SEC] HOST PORT` from `pod`: a TCP connect through the simulated network.

    With -z it only connects (as a port check); otherwise it writes what it reads on stdin to the connection
    and prints what comes back: an HTTP request piped in gets the app's raw response. stdin that is not piped
    counts as closed at once (no terminal feeds it here). A listener (-l) is never connected to in the
    simulation: with -w it times out, without it waits until interrupted (^C: busybox's "punt!").
    """
    flags: dict[str, int] = {}
    values: dict[str, str] = {}
    words: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-e":
            break  # -e PROG [ARGS]: what runs after connecting; nothing to run it with here
        if arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in _NC_FLAGS:
                    flags[letter] = flags.get(letter, 0) + 1
                elif letter in _NC_VALUES:
                    value = arg[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else None)
                    if value is None:
                        return Run("", f"nc: option requires an argument -- '{letter}'\n{BUSYBOX_NC_USAGE}", 1)
                    if not arg[j + 1:]:
                        i += 1
                    values[letter] = value
                    break
                else:
                    return Run("", f"nc: invalid option -- '{letter}'\n{BUSYBOX_NC_USAGE}", 1)
                j += 1
        else:
            words.append(arg)
        i += 1
    if len(words) > 2:
        return Run("", BUSYBOX_NC_USAGE, 1)
    wait = values.get("w")
    if wait is not None and not wait.isdigit():
        return Run("", f"nc: invalid number '{wait}'\n", 1)
    verbose = flags.get("v", 0)
    if flags.get("l") or flags.get("k"):
        listening = f"listening on [::]:{values.get('p', '0')} ...\n" if verbose else ""
        if wait is not None and int(wait) > 0:
            return Run("", listening + "nc: timeout\n", 1)
        return Run("", listening + "punt!\n", 130)
    if not words:
        return Run("", BUSYBOX_NC_USAGE, 1)
    host = words[0]
    port = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
    resolution = dns.resolve(net, pod, host)
    if not resolution.ok:
        return Run("", f"nc: bad address '{host}'\n", 1)
    dotted = f"{resolution.addresses[0]}:{port}"
    if flags.get("u"):  # a UDP "connect" only sets the peer address: it always succeeds
        return Run("", f"{host} ({dotted}) open\n" if verbose else "", 0)
    timeout_ms = int(wait) * 1000.0 if wait is not None and int(wait) > 0 else None
    asked = None if flags.get("z") or not stdin else _nc_request(stdin)
    if asked is None:
        resp = traffic.request(net, pod, host, port=port, method="TCP", timeout_ms=timeout_ms, connect_only=True)
    else:
        resp = traffic.request(net, pod, host, port=port, path=asked[1], method=asked[0], headers=asked[3],
                               timeout_ms=timeout_ms)
    outcome = resp.flow["outcome"]
    if outcome not in ("ok", "connection-reset"):
        refused = outcome in ("refused", "no-endpoints")
        if verbose > 1 or (verbose and not refused):
            return Run("", f"nc: {host} ({dotted}): {'Connection refused' if refused else 'Connection timed out'}\n",
                       1)
        return Run("", "", 1)
    err = f"{host} ({dotted}) open\n" if verbose else ""
    if asked is None or resp.status is None:  # nothing asked, or an app that does not speak HTTP: no answer
        return Run("", err, 0)
    head = _header_lines(resp)
    if asked[2] == "HTTP/1.0":
        head = [line if line != "Connection: keep-alive" else "Connection: close" for line in head]
    body = resp.body
    if resp.headers.get("Transfer-Encoding") == "chunked":
        size = len(body.encode())
        body = (f"{size:x}\r\n{body}\r\n" if size else "") + "0\r\n\r\n"
    return Run("\r\n".join(head) + "\r\n\r\n" + ("" if asked[0] == "HEAD" else body), err, 0)
