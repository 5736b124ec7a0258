"""Command-line parsing with pflag's rules and error wording.

Long flags (`--name=value`, `--name value`, bools as `--all` or `--all=false`), shorthands (`-n x`,
`-nx`, `-n=x`, stacked bools `-it`), `--` ending the flags (what follows is kept apart, as
`ArgsLenAtDash`), flags anywhere among the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.kubectl.base import ExitError

BOOL, STRING, INT, ARRAY, SLICE, DURATION = "bool", "string", "int", "stringArray", "strings", "duration"


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str = STRING
    short: str = ""
    default: object = None
    help: str = ""
    no_opt: str | None = None  # value when given bare (`--dry-run` means "unchanged"; bools mean "true")
    hidden: bool = False


def flag(name: str, kind: str = STRING, short: str = "", default=None, help: str = "", no_opt: str | None = None,
         hidden: bool = False) -> Flag:
    if default is None:
        default = {BOOL: False, INT: 0, ARRAY: [], SLICE: [], STRING: "", DURATION: "0s"}.get(kind)
    return Flag(name, kind, short, default, help, no_opt, hidden)


# kubectl's persistent flags, accepted by every command.
GLOBAL_FLAGS: tuple[Flag, ...] = (
    flag("namespace", short="n", help="If present, the namespace scope for this CLI request"),
    flag("context", help="The name of the kubeconfig context to use"),
    flag("cluster", help="The name of the kubeconfig cluster to use"),
    flag("user", help="The name of the kubeconfig user to use"),
    flag("kubeconfig", help="Path to the kubeconfig file to use for CLI requests."),
    flag("server", short="s", help="The address and port of the Kubernetes API server"),
    flag("token", help="Bearer token for authentication to the API server"),
    flag("v", short="v", help="number for the log level verbosity"),
    flag("request-timeout", default="0", help="The length of time to wait before giving up on a single server "
         "request. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h). A value of zero means "
         "don't timeout requests."),
    flag("insecure-skip-tls-verify", BOOL, help="If true, the server's certificate will not be checked for validity. "
         "This will make your HTTPS connections insecure"),
    flag("cache-dir", default="$HOME/.kube/cache", help="Default cache directory"),
    flag("as", help="Username to impersonate for the operation. User could be a regular user or a service account "
         "in a namespace."),
    flag("as-group", ARRAY, help="Group to impersonate for the operation, this flag can be repeated to specify "
         "multiple groups."),
    flag("match-server-version", BOOL, help="Require server version to match client version"),
    flag("warnings-as-errors", BOOL, help="Treat warnings received from the server as errors and exit with a "
         "non-zero exit code"),
    flag("certificate-authority", help="Path to a cert file for the certificate authority"),
    flag("client-certificate", help="Path to a client certificate file for TLS"),
    flag("client-key", help="Path to a client key file for TLS"),
    flag("password", help="Password for basic authentication to the API server"),
    flag("username", help="Username for basic authentication to the API server"),
    flag("tls-server-name", help="Server name to use for server certificate validation. If it is not provided, the "
         "hostname used to contact the server is used"),
    flag("profile", default="none", help="Name of profile to capture. One of (none|cpu|heap|goroutine|threadcreate|"
         "block|mutex)"),
    flag("profile-output", default="profile.pprof", help="Name of the file to write the profile to"),
    flag("log-flush-frequency", default="5s", help="Maximum number of seconds between log flushes"),
    flag("disable-compression", BOOL, help="If true, opt-out of response compression for all requests to the server"),
)


@dataclass
class Parsed:
    args: list[str]
    values: dict[str, object]
    given: set[str] = field(default_factory=set)
    dash_at: int = -1  # index in args where `--` was, -1 if none

    def __getitem__(self, name: str):
        return self.values[name]

    def get(self, name: str, default=None):
        return self.values.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.given


def _parse_bool(name: str, value: str) -> bool:
    lowered = value
    if lowered in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if lowered in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ExitError(f'invalid argument "{value}" for "--{name}" flag: strconv.ParseBool: parsing "{value}": '
                    "invalid syntax")


def _convert(spec: Flag, value: str, current):
    if spec.kind == BOOL:
        return _parse_bool(spec.name, value)
    if spec.kind == INT:
        try:
            return int(value, 10)
        except ValueError:
            raise ExitError(f'invalid argument "{value}" for "{_display(spec)}" flag: strconv.ParseInt: parsing '
                            f'"{value}": invalid syntax') from None
    if spec.kind == ARRAY:
        return list(current or []) + [value]
    if spec.kind == SLICE:
        return list(current or []) + [v for v in value.split(",")] if value else list(current or [])
    return value


def _display(spec: Flag) -> str:
    return f"-{spec.short}, --{spec.name}" if spec.short else f"--{spec.name}"


def parse(argv: list[str], specs: list[Flag], command_path: str) -> Parsed:
    """Parse `argv` (the command's own words, after its name) against `specs` plus the global flags."""
    by_long: dict[str, Flag] = {}
    by_short: dict[str, Flag] = {}
    for spec in list(GLOBAL_FLAGS) + list(specs):
        by_long[spec.name] = spec
        if spec.short:
            by_short[spec.short] = spec
    values: dict[str, object] = {s.name: (list(s.default) if isinstance(s.default, list) else s.default)
                                 for s in by_long.values()}
    given: set[str] = set()
    args: list[str] = []
    dash_at = -1
    i = 0

    def see_help() -> str:
        return f"See '{command_path} --help' for usage."

    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            dash_at = len(args)
            args.extend(argv[i:])
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word[2:].partition("=")
            if name == "help":
                values["help"] = True
                given.add("help")
                continue
            spec = by_long.get(name)
            if spec is None:
                raise ExitError(f"unknown flag: --{name}\n{see_help()}")
            if not eq:
                if spec.kind == BOOL:
                    value = "true"
                elif spec.no_opt is not None:
                    value = spec.no_opt
                elif i < len(argv):
                    value = argv[i]
                    i += 1
                else:
                    raise ExitError(f"flag needs an argument: --{name}\n{see_help()}")
            values[spec.name] = _convert(spec, value, values[spec.name])
            given.add(spec.name)
            continue
        if word.startswith("-") and len(word) > 1:
            shorts = word[1:]
            while shorts:
                letter, shorts = shorts[0], shorts[1:]
                if letter == "h":
                    values["help"] = True
                    given.add("help")
                    continue
                spec = by_short.get(letter)
                if spec is None:
                    raise ExitError(f"unknown shorthand flag: '{letter}' in -{word[1:]}\n{see_help()}")
                if spec.kind == BOOL:
                    if shorts.startswith("="):
                        value, shorts = shorts[1:], ""
                    else:
                        value = "true"
                elif shorts:
                    value = shorts[1:] if shorts.startswith("=") else shorts
                    shorts = ""
                elif spec.no_opt is not None:
                    value = spec.no_opt
                elif i < len(argv):
                    value = argv[i]
                    i += 1
                else:
                    raise ExitError(f"flag needs an argument: '{letter}' in -{letter}\n{see_help()}")
                values[spec.name] = _convert(spec, value, values[spec.name])
                given.add(spec.name)
            continue
        args.append(word)
    values.setdefault("help", False)
    return Parsed(args, values, given, dash_at)


def split_command_line(line: str) -> list[str]:
    """Split a shell line into words: quotes, backslashes; `$VAR` is left alone (no expansion here)."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    quote = ""
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(line) and line[i + 1] in '"\\$`':
                i += 1
                current.append(line[i])
            else:
                current.append(ch)
        elif ch in ("'", '"'):
            quote = ch
            in_word = True
        elif ch == "\\" and i + 1 < len(line):
            i += 1
            current.append(line[i])
            in_word = True
        elif ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(ch)
            in_word = True
        i += 1
    if quote:
        raise ValueError("unterminated quote")
    if in_word:
        words.append("".join(current))
    return words
