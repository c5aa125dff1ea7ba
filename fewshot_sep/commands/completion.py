"""`fewshot-sep completion bash|zsh`: print a shell completion script.

    eval "$(fewshot-sep completion bash)"     # in ~/.bashrc
    eval "$(fewshot-sep completion zsh)"      # in ~/.zshrc

The script is generated from the command line's own parser, so it always knows the
current commands, preset actions and options. It completes commands, ``preset``
actions, options, ``--mode`` values, ``--preset`` values (``builtin:NAME``, the names in
your preset library, ``.json`` files) and file names. zsh runs the bash function
through ``bashcompinit``. No torch, no extra dependency.
"""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh")

#: Options whose value is a preset reference (completed with built-ins, library names, .json files).
_PRESET_OPTIONS = ("--preset", "-p")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `completion` command."""
    parser = subparsers.add_parser(
        "completion", help="print a shell completion script (bash or zsh)",
        description="Print a tab-completion script for fewshot-sep. Enable it with "
        "eval \"$(fewshot-sep completion bash)\" in ~/.bashrc, or "
        "eval \"$(fewshot-sep completion zsh)\" in ~/.zshrc.",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(func=run)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({s for a in parser._actions for s in a.option_strings if s.startswith("--")})


def _choices(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """``{option: [its choices]}`` for the options of `parser` that take fixed values."""
    return {s: [str(c) for c in a.choices] for a in parser._actions if a.choices and a.option_strings
            for s in a.option_strings}


def _words(items) -> str:
    return " ".join(items)


def bash_function(parser: argparse.ArgumentParser) -> str:
    """The bash completion function ``_fewshot_sep`` for `parser` (the full `fewshot-sep` parser)."""
    from fewshot_sep.presets.resolve import BUILTIN_PREFIX, list_builtins

    commands = _subparsers(parser)
    option_cases, sub_cases, value_cases = [], [], {}
    for name, sub in commands.items():
        option_cases.append(f'        "{name}") opts="{_words(_options(sub))}" ;;')
        actions = _subparsers(sub)
        positional = [str(c) for a in sub._actions if not a.option_strings and a.choices and a.dest != "==SUPPRESS=="
                      and not isinstance(a, argparse._SubParsersAction) for c in a.choices]
        if actions or positional:
            sub_cases.append(f'        "{name}") words="{_words(actions or positional)}" ;;')
            for action_name, action in actions.items():
                option_cases.append(f'        "{name} {action_name}") opts="{_words(_options(action))}" ;;')
        for option, values in _choices(sub).items():
            value_cases.setdefault(option, set()).update(values)
    values = "\n".join(f'        {option}) COMPREPLY=($(compgen -W "{_words(sorted(v))}" -- "$cur")); return ;;'
                       for option, v in sorted(value_cases.items()))
    builtins = _words(BUILTIN_PREFIX + n for n in list_builtins())
    return f'''_fewshot_sep() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local cmd="" sub="" i opts="" words=""
    for ((i = 1; i < COMP_CWORD; i++)); do  # the command: the first word that is not an option
        [[ "${{COMP_WORDS[i]}}" == -* ]] || {{ cmd="${{COMP_WORDS[i]}}"; break; }}
    done
    case "$prev" in
{values}
        {"|".join(_PRESET_OPTIONS)})
            local library="${{FEWSHOT_SEP_HOME:-${{XDG_DATA_HOME:-$HOME/.local/share}}/fewshot-sep}}/presets" f n
            COMPREPLY=($(compgen -W "{builtins}" -- "$cur"))
            for f in "$library"/*.json; do  # library names may hold spaces: quoted one by one
                [[ -e "$f" ]] || continue
                n="$(basename "$f" .json)"
                [[ "$n" == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$n")")
            done
            local IFS=$'\n'
            COMPREPLY+=($(compgen -f -X '!*.json' -- "$cur") $(compgen -d -- "$cur"))
            return ;;
    esac
    if [[ -z "$cmd" ]]; then
        COMPREPLY=($(compgen -W "{_words(commands)} --help --version" -- "$cur"))
        return
    fi
    case "$cmd" in
{chr(10).join(sub_cases)}
    esac
    for ((i = i + 1; i < COMP_CWORD; i++)); do  # its action (preset create, data render, ...), if it has them
        [[ " $words " == *" ${{COMP_WORDS[i]}} "* ]] && {{ sub="${{COMP_WORDS[i]}}"; break; }}
    done
    if [[ -n "$words" && -z "$sub" && "$cur" != -* ]]; then
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return
    fi
    if [[ "$cur" == -* ]]; then
        case "$cmd${{sub:+ $sub}}" in
{chr(10).join(option_cases)}
        esac
        COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}}
'''


def script(shell: str, parser: argparse.ArgumentParser | None = None) -> str:
    """The completion script for `shell` ("bash" or "zsh")."""
    if parser is None:
        from fewshot_sep.cli import build_parser

        parser = build_parser()
    header = f"# fewshot-sep tab completion for {shell}: eval \"$(fewshot-sep completion {shell})\"\n"
    body = bash_function(parser) + "complete -o default -F _fewshot_sep fewshot-sep\n"
    if shell == "zsh":  # zsh runs bash completion functions through bashcompinit
        return header + "autoload -U +X compinit && compinit -u\nautoload -U +X bashcompinit && bashcompinit\n" + body
    return header + body


def run(args: argparse.Namespace) -> int:
    """Entry point of `fewshot-sep completion`."""
    from fewshot_sep.utils.console import emit

    emit(script(args.shell), sys.stdout)
    return 0
