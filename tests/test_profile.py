"""Profiles: defaults, validation, the TOML and Junos-style loaders, the
printer (round trip), and `avgate profile show|check`."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avgate.cli import main
from avgate.errors import REASONS
from avgate.governor import MiB
from avgate.profile import (
    ACTIONS,
    DEFAULT_FALLBACK,
    NOTIFICATION_BLOCKS,
    Notice,
    Profile,
    ProfileError,
    format_size,
    load_profiles,
    loads_profiles,
)

DESIGN = Path(__file__).resolve().parent.parent / "DESIGN.md"

# One profile, written in each form the loaders accept.
SET_LINES = r"""
# strict profile, set form
set security utm feature-profile anti-virus profile strict fallback-options corrupt-file block
set security utm feature-profile anti-virus profile strict fallback-options timeout log-and-permit
set security utm feature-profile anti-virus profile strict fallback-options default permit
set security utm feature-profile anti-virus profile strict scan-options timeout 30
set security utm feature-profile anti-virus profile strict scan-options content-size-limit 20000
set security utm feature-profile anti-virus profile strict scan-options decompress-layer-limit 2
set security utm feature-profile anti-virus profile strict scan-options scan-size-limit 64m
set security utm feature-profile anti-virus profile strict scan-options max-files 500
set security utm feature-profile anti-virus profile strict notification-options virus-detection type protocol-only
set security utm feature-profile anti-virus profile strict notification-options virus-detection notify-mail-sender
set security utm feature-profile anti-virus profile strict notification-options virus-detection custom-message "Virus \"found\"; { not a block }"
set security utm feature-profile anti-virus profile strict notification-options virus-detection custom-message-subject "[VIRUS]"
set security utm feature-profile anti-virus profile strict notification-options fallback-block custom-message-subject Blocked
set security utm feature-profile anti-virus profile strict notification-options fallback-non-block notify-mail-recipient
set security utm feature-profile anti-virus profile strict notification-options fallback-non-block custom-message "Not scanned.\nSorry."
"""

CURLY = r"""
/* strict profile,
   curly-brace form */
security {
    utm {
        feature-profile {
            anti-virus {
                profile strict {
                    fallback-options {
                        corrupt-file block;
                        timeout log-and-permit;   # overrides the default
                        default permit;
                    }
                    scan-options {
                        timeout 30;
                        content-size-limit 20000;
                        decompress-layer-limit 2;
                        scan-size-limit 64m;
                        max-files 500;
                    }
                    notification-options {
                        virus-detection {
                            type protocol-only;
                            notify-mail-sender;
                            custom-message "Virus \"found\"; { not a block }";
                            custom-message-subject "[VIRUS]";
                        }
                        fallback-block { custom-message-subject Blocked; }
                        fallback-non-block {
                            notify-mail-recipient;
                            custom-message "Not scanned.\nSorry.";
                        }
                    }
                }
            }
        }
    }
}
"""

TOML = r"""
[profile.strict.fallback-options]
corrupt-file = "block"
timeout = "log-and-permit"
default = "permit"

[profile.strict.scan-options]
timeout = 30
content-size-limit = 20000
decompress-layer-limit = 2
scan-size-limit = "64m"
max-files = 500

[profile.strict.notification-options.virus-detection]
type = "protocol-only"
notify-mail-sender = true
custom-message = 'Virus "found"; { not a block }'
custom-message-subject = "[VIRUS]"

[profile.strict.notification-options]
fallback-block = { custom-message-subject = "Blocked" }
fallback-non-block = { notify-mail-recipient = true, custom-message = "Not scanned.\nSorry." }
"""

STRICT = Profile(
    name="strict",
    timeout=30,
    content_size_limit=20000,
    decompress_layer_limit=2,
    scan_size_limit=64 * MiB,
    max_files=500,
    fallback={"corrupt-file": "block", "timeout": "log-and-permit", "default": "permit"},
    notifications={
        "virus-detection": Notice(
            type="protocol-only",
            notify_mail_sender=True,
            custom_message='Virus "found"; { not a block }',
            custom_message_subject="[VIRUS]",
        ),
        "fallback-block": Notice(custom_message_subject="Blocked"),
        "fallback-non-block": Notice(notify_mail_recipient=True, custom_message="Not scanned.\nSorry."),
    },
)


# -- the model ------------------------------------------------------------


def test_default_fallback_actions_are_designs_table():
    rows = re.findall(r"^\| ([a-z-]+) \| .* \| (block|log-and-permit|permit) \|$", DESIGN.read_text(), re.M)
    assert dict(rows) == DEFAULT_FALLBACK
    assert Profile().fallback == DEFAULT_FALLBACK
    assert list(Profile().fallback) == list(REASONS)


def test_defaults():
    p = Profile()
    assert (p.name, p.timeout, p.content_size_limit, p.decompress_layer_limit) == ("default", 180.0, None, 4)
    assert (p.scan_size_limit, p.max_files) == (400 * MiB, 10_000)
    assert list(p.notifications) == list(NOTIFICATION_BLOCKS)
    assert all(n == Notice() for n in p.notifications.values())
    limits = p.limits()
    assert (limits.timeout, limits.content_size_limit, limits.scan_size_limit) == (180.0, None, 400 * MiB)


def test_partial_settings_are_completed_from_the_defaults():
    p = Profile(fallback={"timeout": "permit"}, notifications={"fallback-block": Notice(type="protocol-only")})
    assert p.fallback == {**DEFAULT_FALLBACK, "timeout": "permit"}
    assert p.notice("fallback-block").type == "protocol-only"
    assert p.notice("virus-detection") == Notice()
    assert p.action("timeout") == "permit"
    assert p.action("a-reason-nobody-knows") == p.fallback["default"]
    assert Profile(content_size_limit=20).limits().content_size_limit == 20 * 1024


def test_fractional_timeout_for_embedders():
    assert Profile(timeout=0.2).limits().timeout == 0.2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"timeout": 0}, "timeout must be more than 0"),
        ({"timeout": 1801}, "at most 1800"),
        ({"timeout": True}, "timeout"),
        ({"content_size_limit": 0}, "out of range"),
        ({"decompress_layer_limit": 17}, "out of range 1-16"),
        ({"scan_size_limit": 10}, "out of range 1k-1024g"),
        ({"max_files": 0}, "out of range"),
        ({"name": ""}, "profile name must be 1-63"),
        ({"fallback": {"bogus": "block"}}, "unknown fallback reason"),
        ({"fallback": {"timeout": "drop"}}, "bad fallback action 'drop'"),
        ({"notifications": {"virus-detection": Notice(custom_message="x" * 513)}}, "1-512 characters"),
        ({"notifications": {"virus-detection": Notice(custom_message="")}}, "1-512 characters"),
        ({"notifications": {"fallback-block": Notice(custom_message_subject="s" * 256)}}, "1-255"),
        ({"notifications": {"fallback-block": Notice(custom_message_subject="a\r\nBcc: x@y")}}, "line breaks"),
        ({"notifications": {"fallback-block": Notice(type="loud")}}, "bad notification type"),
        ({"notifications": {"fallback-non-block": Notice(type="protocol-only")}}, "does not take type"),
        ({"notifications": {"fallback-non-block": Notice(notify_mail_sender=True)}}, "does not take notify-mail-sender"),
        ({"notifications": {"virus-detection": Notice(notify_mail_recipient=True)}}, "does not take notify-mail-recipient"),
        ({"notifications": {"elsewhere": Notice()}}, "unknown notification block"),
    ],
)
def test_invalid_values_are_refused(change, message):
    with pytest.raises(ProfileError, match=re.escape(message)):
        Profile(**change)
    with pytest.raises(ProfileError, match=re.escape(message)):
        dataclasses.replace(Profile(), **change)


@pytest.mark.parametrize("size, text", [(400 * MiB, "400m"), (1 << 30, "1g"), (3072, "3k"), (1025, "1025")])
def test_sizes_print_exactly(size, text):
    assert format_size(size) == text


# -- the Junos-style loader -----------------------------------------------


def test_set_lines_curly_braces_and_toml_mean_the_same():
    assert Profile.loads(SET_LINES) == STRICT
    assert Profile.loads(CURLY) == STRICT
    assert Profile.loads(TOML, format="toml") == STRICT


def test_the_older_form_with_an_engine_level():
    text = """
    security { utm { feature-profile {
        anti-virus kaspersky-lab-engine profile kav {
            notification-options { virus-detection { type message; custom-message "Infected file removed"; } }
        }
    } } }
    set security utm feature-profile anti-virus juniper-express-engine profile express fallback-options password-file block
    anti-virus { sophos-engine { profile sav { scan-options { timeout 60; } } } }
    avira-engine { profile avira { fallback-options { engine-not-ready permit; } } }
    """
    profiles = loads_profiles(text)
    assert list(profiles) == ["kav", "express", "sav", "avira"]
    assert profiles["kav"].notice("virus-detection") == Notice(type="message", custom_message="Infected file removed")
    assert profiles["express"].action("password-file") == "block"
    assert profiles["sav"].timeout == 60
    assert profiles["avira"].action("engine-not-ready") == "permit"


def test_fragments_at_any_level_and_several_profiles_per_file():
    text = """
    profile a { fallback-options { timeout permit; } }
    anti-virus { profile b { } }
    utm { feature-profile { anti-virus { profile "c d" { scan-options { max-files 7; } } } } }
    set security utm feature-profile anti-virus profile a scan-options timeout 9
    """
    profiles = loads_profiles(text)
    assert list(profiles) == ["a", "b", "c d"]
    assert (profiles["a"].action("timeout"), profiles["a"].timeout) == ("permit", 9)
    assert profiles["b"] == Profile(name="b")
    assert profiles["c d"].max_files == 7


def test_later_statements_override_earlier_ones_and_flags_can_be_negated():
    text = """
    set security utm feature-profile anti-virus profile p notification-options virus-detection notify-mail-sender
    set security utm feature-profile anti-virus profile p notification-options virus-detection no-notify-mail-sender
    set security utm feature-profile anti-virus profile p fallback-options timeout permit
    set security utm feature-profile anti-virus profile p fallback-options timeout block
    """
    p = Profile.loads(text)
    assert p.notice("virus-detection").notify_mail_sender is False
    assert p.action("timeout") == "block"


def test_empty_configuration_has_no_profiles():
    assert loads_profiles("# nothing\n/* at all */\n") == {}
    assert loads_profiles("security { utm { } }") == {}


JUNOS_ERRORS = [
    ("set security utm feature-profile anti-virus profile p scan-options timeout 5000", 1, "5000 is out of range 1-1800"),
    ("set security utm feature-profile anti-virus profile p scan-options timeout 0", 1, "out of range"),
    ("set security utm feature-profile anti-virus profile p scan-options timeout 1.5", 1, "expected a whole number"),
    ("\n\nset security utm feature-profile anti-virus profile p scan-options content-size-limit 0", 3, "out of range"),
    ("set security utm feature-profile anti-virus profile p scan-options decompress-layer-limit 99", 1, "1-16"),
    ("set security utm feature-profile anti-virus profile p scan-options scan-size-limit 12q", 1, "expected a size"),
    ("set security utm feature-profile anti-virus profile p scan-options max-files -1", 1, "whole number"),
    ("set security utm feature-profile anti-virus profile p scan-options turbo on", 1, "unknown scan-options key 'turbo'"),
    ("set security utm feature-profile anti-virus profile p scan-options timeout", 1, "incomplete statement"),
    ("set security utm feature-profile anti-virus profile p scan-options timeout 5 6", 1, "unexpected '6'"),
    ("set security utm feature-profile anti-virus profile p fallback-options bogus block", 1, "unknown fallback reason 'bogus'"),
    ("set security utm feature-profile anti-virus profile p fallback-options timeout drop", 1, "bad fallback action 'drop'"),
    ("set security utm feature-profile anti-virus profile p trickling timeout 5", 1, "unknown profile statement 'trickling'"),
    ("set security utm feature-profile anti-virus profile p notification-options loud type message", 1, "unknown notification block"),
    ("set security utm feature-profile anti-virus profile p notification-options virus-detection type loud", 1, "bad notification type"),
    ("set security utm feature-profile anti-virus profile p notification-options virus-detection colour red", 1, "unknown virus-detection key 'colour'"),
    ("set security utm feature-profile anti-virus profile p notification-options fallback-non-block notify-mail-sender", 1, "unknown fallback-non-block key"),
    ("set security utm feature-profile anti-virus profile p notification-options fallback-block notify-mail-recipient", 1, "unknown fallback-block key"),
    ("set security utm feature-profile anti-virus profile p notification-options fallback-block custom-message " + '"' + "x" * 513 + '"', 1, "1-512"),
    ("set security utm feature-profile anti-virus profile p notification-options fallback-block custom-message-subject " + "s" * 256, 1, "1-255"),
    ('set security utm feature-profile anti-virus profile p notification-options fallback-block custom-message-subject "a\\nb"', 1, "line breaks"),
    ('set security utm feature-profile anti-virus profile p notification-options virus-detection custom-message ""', 1, "1-512"),
    ("set security utm feature-profile anti-virus profile", 1, "'profile' needs a name"),
    ("set security utm feature-profile anti-virus mime-whitelist list x", 1, "unknown statement 'mime-whitelist'"),
    ("set security utm custom-objects url-pattern x value y", 1, "unknown statement 'custom-objects'"),
    ("set", 1, "'set' without a statement"),
    ("delete security utm", 1, "'delete' lines are not understood"),
    ("profile p {\n  scan-options {\n    timeout 10\n  }\n}", 3, "missing ';' after '10'"),
    ("profile p {\n  fallback-options {\n    timeout block;\n", 2, "is not closed"),
    ("profile p { }\n}", 2, "'}' without a matching '{'"),
    ("profile p {\n ;\n}", 2, "empty statement"),
    ("{ }", 1, "'{' without a statement name"),
    ("profile p { scan-options [ timeout ]; }", 1, "lists are not used"),
    ('profile p {\n notification-options { virus-detection { custom-message "open\n', 2, "unterminated string"),
    ('profile p { notification-options { virus-detection { custom-message "bad \\q"; } } }', 1, "unknown escape"),
    ("profile p {\n/* never closed\n}", 2, "unterminated /* comment"),
    ("set security utm feature-profile anti-virus profile p scan-options timeout 5;", 1, "unexpected ';' in a set line"),
]


# -- the TOML loader --------------------------------------------------------

TOML_ERRORS = [
    ("[profile.p.scan-options]\n\ntimeout = 3000\n", 3, "3000 is out of range 1-1800"),
    ("[profile.p.scan-options]\ntimeout = 1.5\n", 2, "expected a whole number"),
    ("[profile.p.scan-options]\nmax-files = true\n", 2, "expected a whole number"),
    ("[profile.p.scan-options]\nscan-size-limit = \"big\"\n", 2, "expected a size"),
    ("[profile.p.scan-options]\ncolour = 1\n", 2, "unknown scan-options key 'colour'"),
    ("[profile.p]\nscan-options = 5\n", 2, "must be a table"),
    ("[profile.p]\n\nfallback-options = { timeout = \"drop\" }\n", 3, "bad fallback action 'drop'"),
    ("[profile.p.fallback-options]\nbogus = \"block\"\n", 2, "unknown fallback reason 'bogus'"),
    ("[profile.p.notification-options.fallback-non-block]\n\n\ntype = \"message\"\n", 4, "unknown fallback-non-block key 'type'"),
    ("[profile.p.notification-options.virus-detection]\nnotify-mail-sender = \"yes\"\n", 2, "expected true or false"),
    ("[profile.p.notification-options.virus-detection]\ncustom-message = \"\"\n", 2, "1-512"),
    ("[profile.p.notification-options.loud]\ntype = \"message\"\n", 1, "unknown notification block"),
    ("[profile.p]\ntrickling = 5\n", 2, "unknown profile key 'trickling'"),
    ("[anti-virus]\nx = 1\n", 1, "unknown top-level key 'anti-virus'"),
    ("[profile.p.scan-options]\ntimeout = \n", 2, "TOML syntax"),
]


@pytest.mark.parametrize(
    "name, text, line, message",
    [("av.conf", *case) for case in JUNOS_ERRORS] + [("av.toml", *case) for case in TOML_ERRORS],
)
def test_errors_name_file_and_line(tmp_path, name, text, line, message):
    path = tmp_path / name  # the suffix picks the loader: .toml is TOML, anything else Junos-style
    path.write_text(text)
    with pytest.raises(ProfileError) as error:
        load_profiles(path)
    assert error.value.line == line
    assert message in error.value.message
    assert str(error.value).startswith(f"{path}:{line}: ")


def test_toml_several_profiles_and_dotted_keys():
    text = """
    [profile.a]
    scan-options.timeout = 12
    [profile.b.fallback-options]
    corrupt-file = "permit"
    """
    profiles = loads_profiles(text, format="toml")
    assert list(profiles) == ["a", "b"]
    assert profiles["a"].timeout == 12
    assert profiles["b"].action("corrupt-file") == "permit"


# -- loading files, choosing a profile ---------------------------------------


def test_load_picks_by_name_and_refuses_ambiguity(tmp_path):
    conf = tmp_path / "av.conf"
    conf.write_text("profile a { }\nprofile b { scan-options { timeout 5; } }\n")
    assert Profile.load(conf, "b").timeout == 5
    with pytest.raises(ProfileError, match=r"expected one profile, found 2 \(a, b\)"):
        Profile.load(conf)
    with pytest.raises(ProfileError, match="no profile 'c'"):
        Profile.load(conf, "c")
    toml = tmp_path / "av.toml"
    toml.write_text('[profile.only.scan-options]\ntimeout = 7\n')
    assert Profile.load(toml).timeout == 7
    with pytest.raises(ProfileError, match="cannot read"):
        Profile.load(tmp_path / "missing.conf")
    with pytest.raises(ValueError, match="unknown profile format"):
        loads_profiles("", format="xml")


# -- printing: load -> print -> load is identical ------------------------------

_TEXT = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list('"\\{};#/* \n\t'))
_LINE = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list('"\\{};#/* '))


@st.composite
def profiles(draw: st.DrawFn) -> Profile:
    def notice(block: str) -> Notice:
        values = {
            "custom_message": draw(st.none() | st.text(_TEXT, min_size=1, max_size=40)),
            "custom_message_subject": draw(st.none() | st.text(_LINE, min_size=1, max_size=20)),
        }
        if block == "fallback-non-block":
            values["notify_mail_recipient"] = draw(st.booleans())
        else:
            values["type"] = draw(st.sampled_from(["protocol-only", "message"]))
            values["notify_mail_sender"] = draw(st.booleans())
        return Notice(**values)

    return Profile(
        name=draw(st.text(_LINE, min_size=1, max_size=20)),
        timeout=draw(st.integers(1, 1800)),
        content_size_limit=draw(st.none() | st.integers(1, 4 * 1024 * 1024)),
        decompress_layer_limit=draw(st.integers(1, 16)),
        scan_size_limit=draw(st.integers(1024, 1 << 40)),
        max_files=draw(st.integers(1, 10_000_000)),
        fallback={r: draw(st.sampled_from(ACTIONS)) for r in REASONS},
        notifications={b: notice(b) for b in NOTIFICATION_BLOCKS},
    )


@settings(max_examples=150, deadline=None)
@given(profiles())
def test_print_then_load_is_identical(profile):
    assert Profile.loads(profile.to_junos()) == profile
    assert Profile.loads(profile.to_set_lines()) == profile


def test_printed_form_is_the_curly_brace_hierarchy():
    text = STRICT.to_junos()
    assert text.startswith("security {\n    utm {\n        feature-profile {\n            anti-virus {\n")
    assert "                profile strict {\n" in text
    assert '                            custom-message "Virus \\"found\\"; { not a block }";\n' in text
    assert "scan-size-limit 64m;" in text and "content-size-limit 20000;" in text
    assert "no-notify-mail-sender;" in text  # fallback-block: the effective value is printed
    assert Profile.loads(text) == STRICT


# -- the command line --------------------------------------------------------


def test_cli_show_default(capsys):
    assert main(["profile", "show"]) == 0
    out = capsys.readouterr().out
    assert Profile.loads(out) == Profile()


def test_cli_show_from_file_round_trips(tmp_path, capsys):
    conf = tmp_path / "av.conf"
    conf.write_text(SET_LINES + "set security utm feature-profile anti-virus profile other scan-options timeout 3\n")
    assert main(["profile", "show", "-f", str(conf), "strict"]) == 0
    printed = capsys.readouterr().out
    assert Profile.loads(printed) == STRICT
    assert main(["profile", "show", "-f", str(conf)]) == 0
    both = loads_profiles(capsys.readouterr().out)
    assert list(both) == ["strict", "other"] and both["other"].timeout == 3
    assert main(["profile", "show", "--set", "-f", str(conf), "other"]) == 0
    lines = capsys.readouterr().out
    assert lines.startswith("set security utm feature-profile anti-virus profile other ")
    assert Profile.loads(lines) == both["other"]


def test_cli_show_unknown_name_fails(tmp_path, capsys):
    conf = tmp_path / "av.conf"
    conf.write_text("profile a { }\n")
    assert main(["profile", "show", "-f", str(conf), "zzz"]) == 2
    assert "no profile 'zzz' (profiles: a)" in capsys.readouterr().err
    assert main(["profile", "show", "zzz"]) == 2
    assert "without --file" in capsys.readouterr().err


def test_cli_check(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(TOML)
    bad = tmp_path / "bad.conf"
    bad.write_text("profile x {\n  scan-options { timeout 9999; }\n}\n")
    assert main(["profile", "check", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: OK (1 profile: strict)\n"
    assert main(["profile", "check", str(bad), str(good)]) == 2
    captured = capsys.readouterr()
    assert f"{bad}:2: 9999 is out of range 1-1800 seconds" in captured.err
    assert f"{good}: OK" in captured.out  # the other file is still checked


EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples" / "profiles").glob("*.*"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_profiles_load_and_round_trip(path, capsys):
    profiles = load_profiles(path)
    assert profiles
    for profile in profiles.values():
        assert Profile.loads(profile.to_junos()) == profile
    assert main(["profile", "check", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: OK")


def test_example_mail_profile_says_what_it_means():
    mail = Profile.load(EXAMPLES[0].parent / "gateway.conf", "mail")
    assert (mail.timeout, mail.content_size_limit, mail.scan_size_limit, mail.max_files) == (60, 40000, 512 * MiB, 5000)
    assert mail.action("password-file") == "block" and mail.action("corrupt-file") == "log-and-permit"
    assert mail.notice("fallback-block") == Notice(type="protocol-only", notify_mail_sender=True,
                                                   custom_message_subject="[NOT DELIVERED]")
