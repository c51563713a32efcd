"""The CLI's fast path around argparse: plain command lines parsed without importing it.

Importing argparse (with re and gettext) and building tether's parser tree cost
~30 ms of every command (bench/CHANGES.md). The same add_argument calls that
build the argparse tree are recorded here for the one command being run, and a
command line in the plain shapes below is parsed from that record into the
Namespace argparse would give (tests/unit/test_cli_parse.py checks the two
agree). Anything else returns None and argparse parses it: help, errors,
abbreviated options, negative numbers, positionals split by options.
"""

import sys

# The add_argument keywords and actions understood here; any other makes the
# command argparse's alone.
_KEYWORDS = frozenset(("action", "default", "nargs", "choices", "metavar", "help", "dest",
                       "required", "version"))
_ACTIONS = (None, "store", "store_true", "append", "version")


class Options:
    """The parsed command line: one attribute per destination, as argparse.Namespace."""

    def __repr__(self):
        return f"Options({vars(self)!r})"


class Argument:
    """One recorded add_argument call."""

    def __init__(self, names, kwargs):
        self.names = names
        self.action = kwargs.get("action")
        self.nargs = kwargs.get("nargs")
        self.choices = kwargs.get("choices")
        self.version = kwargs.get("version")
        self.positional = not names[0].startswith("-")
        self.dest = kwargs.get("dest") or dest_of(names)
        default = kwargs.get("default")
        self.default = False if self.action == "store_true" and default is None else default
        self.takes_value = self.action in (None, "store", "append")


def dest_of(names):
    """Return argparse's destination of option or positional NAMES."""
    if not names[0].startswith("-"):
        return names[0]
    name = next((n for n in names if n.startswith("--")), names[0])
    return name.lstrip("-").replace("-", "_")


class Recorder:
    """Stands in for an ArgumentParser and records what the add_* functions declare."""

    def __init__(self):
        self.arguments = []
        self.groups = []
        self.defaults = {}
        self.plain = True

    def add_argument(self, *names, **kwargs):
        """Record an argument (one argparse alone understands makes the command not plain)."""
        if not names or set(kwargs) - _KEYWORDS or kwargs.get("action") not in _ACTIONS \
                or kwargs.get("nargs") not in (None, "?", "*") or kwargs.get("required"):
            self.plain = False
        argument = Argument(names or ("?",), kwargs)
        self.arguments.append(argument)
        return argument

    def add_argument_group(self, *_args, **_kwargs):
        """Return self: groups only shape the help text."""
        return self

    def add_mutually_exclusive_group(self, required=False):
        """Return a group recording into this recorder."""
        group = ExclusiveGroup(self, required)
        self.groups.append(group)
        return group

    def set_defaults(self, **kwargs):
        """Record default attributes."""
        self.defaults.update(kwargs)

    def options(self):
        """Return {option string: Argument} of the optional arguments."""
        return {name: a for a in self.arguments if not a.positional for name in a.names}


class ExclusiveGroup:
    """A mutually exclusive group: records into its parser, remembers its members."""

    def __init__(self, recorder, required):
        self.recorder = recorder
        self.required = required
        self.members = []

    def add_argument(self, *names, **kwargs):
        """Record a member argument."""
        argument = self.recorder.add_argument(*names, **kwargs)
        self.members.append(argument)
        return argument


def record(add_options):
    """Return a Recorder after ADD_OPTIONS(recorder)."""
    recorder = Recorder()
    add_options(recorder)
    return recorder


def find_command(commands, name):
    """Return the COMMANDS entry named NAME (or one of its aliases), or None."""
    return next((c for c in commands if name == c[0] or name in c[1]), None)


def parse(argv, add_global_options, commands):
    """Return the Options of a plain ARGV, or None for argparse to parse it."""
    top = record(add_global_options)
    opts = Options()
    for argument in top.arguments:
        if not argument.positional and argument.action != "version":
            setattr(opts, argument.dest, argument.default)
    index = parse_global(argv, top, opts)
    if index is None:
        return None
    entry = find_command(commands, argv[index])
    if entry is None:
        return None
    sub = record(entry[3])
    sub.set_defaults(handler=entry[2], command=entry[0])
    if not sub.plain or not parse_command(argv[index + 1:], sub, opts):
        return None
    return opts


def parse_global(argv, top, opts):
    """Parse the options before the command into OPTS; return the command's index or None."""
    options = top.options()
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        name, sep, value = argv[index].partition("=")
        argument = options.get(name) if name.startswith("--") or not sep else None
        if argument is None or not top.plain or (sep and not argument.takes_value):
            return None
        if argument.action == "version":
            sys.stdout.write(argument.version + "\n")
            sys.exit(0)
        if not sep:
            index += 1
            if index >= len(argv) or argv[index].startswith("-"):
                return None
            value = argv[index]
        setattr(opts, argument.dest, value)
        index += 1
    return index if index < len(argv) else None


def parse_command(args, sub, opts):
    """Parse a command's ARGS into OPTS; return False if argparse must do it."""
    values = {a.dest: a.default for a in sub.arguments}
    seen = set()
    positionals = parse_options(args, sub.options(), values, seen)
    # Positionals split by options are matched by argparse's own rules (which differ
    # between Python versions): only one run of them is taken here.
    if positionals is None or not assign_positionals(sub, positionals, values):
        return False
    for group in sub.groups:
        given = seen.intersection(group.members)
        if len(given) > 1 or (group.required and not given):
            return False
    values.update(sub.defaults)
    for dest, value in values.items():
        setattr(opts, dest, value)
    return True


def parse_options(args, options, values, seen):
    """Store the options of ARGS in VALUES; return the one run of positionals, or None."""
    positionals, runs, previous_was_positional = [], 0, False
    index = 0
    while index < len(args):
        token = args[index]
        if token == "-":
            return None
        if not token.startswith("-"):
            runs += 0 if previous_was_positional else 1
            positionals.append(token)
            previous_was_positional = True
            index += 1
            continue
        pairs = split_option(token, options)
        if pairs is None:
            return None
        for argument, value in pairs:
            if argument.takes_value and value is None:
                index += 1
                if index >= len(args) or args[index].startswith("-"):
                    return None
                value = args[index]
            if not store(values, argument, value):
                return None
            seen.add(argument)
        previous_was_positional = False
        index += 1
    return positionals if runs <= 1 else None


def split_option(token, options):
    """Return [(Argument, explicit value or None)] of an option token, or None."""
    if token.startswith("--"):
        name, sep, value = token.partition("=")
        argument = options.get(name)
        if argument is None or (sep and not argument.takes_value):
            return None
        return [(argument, value if sep else None)]
    if "=" in token or token[1:2].isdigit():
        return None
    pairs, rest = [], token[1:]
    while rest:
        argument = options.get("-" + rest[0])
        if argument is None:
            return None
        if argument.takes_value:
            return pairs + [(argument, rest[1:] or None)]
        pairs.append((argument, None))
        rest = rest[1:]
    return pairs


def store(values, argument, value):
    """Store VALUE for ARGUMENT in VALUES; return False if argparse would refuse it."""
    if argument.action == "store_true":
        values[argument.dest] = True
        return True
    if argument.choices is not None and value not in argument.choices:
        return False
    if argument.action == "append":
        current = values[argument.dest]
        # A fresh list, never the default's: argparse copies it too.
        current = list(current or []) if current is argument.default else current
        values[argument.dest] = current + [value]
    else:
        values[argument.dest] = value
    return True


def assign_positionals(sub, tokens, values):
    """Give TOKENS to the positionals, greedily as argparse; return False if they do not fit."""
    arguments = [a for a in sub.arguments if a.positional]
    left = list(tokens)
    for i, argument in enumerate(arguments):
        required_after = sum(1 for a in arguments[i + 1:] if a.nargs is None)
        spare = len(left) - required_after
        if argument.nargs is None:
            if spare < 1:
                return False
            values[argument.dest] = left.pop(0)
        elif argument.nargs == "?":
            if spare >= 1:
                values[argument.dest] = left.pop(0)
        else:
            taken = max(spare, 0)
            values[argument.dest] = left[:taken] if taken or argument.default is None \
                else argument.default
            del left[:taken]
    return not left
