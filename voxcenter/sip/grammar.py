"""RFC 3261 §25 (augmented BNF for SIP) as precompiled regular expressions.

Each rule is quoted from the RFC above the pattern that implements it, so the
grammar can be checked against §25 line by line. Patterns are plain strings
(composable with f-strings); the ``*_RE`` names are the compiled forms the
parsers use. Where voxcenter is deliberately more liberal or stricter than the
ABNF, the comment says so and why.

Python 3.11 atomic groups and possessive quantifiers keep the host and quoted
string rules linear on hostile input.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------
# Basic rules (§25.1)
# ---------------------------------------------------------------------------

#   alphanum  =  ALPHA / DIGIT
ALPHANUM = r"[A-Za-z0-9]"

#   mark        =  "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
#   unreserved  =  alphanum / mark
UNRESERVED = r"[A-Za-z0-9\-_.!~*'()]"

#   escaped     =  "%" HEXDIG HEXDIG
ESCAPED = r"%[0-9A-Fa-f]{2}"

#   reserved    =  ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","
#   uric        =  reserved / unreserved / escaped
URIC = rf"(?:[;/?:@&=+$,A-Za-z0-9\-_.!~*'()]|{ESCAPED})"

#   LWS  =  [*WSP CRLF] 1*WSP ; linear whitespace
#   SWS  =  [LWS] ; sep whitespace
# Folding is undone when header lines are joined, so inside a header value LWS
# is one or more SP/HTAB.
LWS = r"[ \t]+"
SWS = r"[ \t]*"

#   HCOLON  =  *( SP / HTAB ) ":" SWS
HCOLON = rf"[ \t]*:{SWS}"

#   SEMI    =  SWS ";" SWS ; semicolon
#   EQUAL   =  SWS "=" SWS ; equal
#   SLASH   =  SWS "/" SWS ; slash
#   COLON   =  SWS ":" SWS ; colon
#   COMMA   =  SWS "," SWS ; comma
SEMI = rf"{SWS};{SWS}"
EQUAL = rf"{SWS}={SWS}"
SLASH = rf"{SWS}/{SWS}"
COLON = rf"{SWS}:{SWS}"
COMMA = rf"{SWS},{SWS}"

#   token  =  1*(alphanum / "-" / "." / "!" / "%" / "*"
#             / "_" / "+" / "`" / "'" / "~" )
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"

#   word  =  1*(alphanum / "-" / "." / "!" / "%" / "*" /
#            "_" / "+" / "`" / "'" / "~" /
#            "(" / ")" / "<" / ">" /
#            ":" / "\" / DQUOTE /
#            "/" / "[" / "]" / "?" /
#            "{" / "}" )
WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"

#   UTF8-NONASCII  =  %xC0-DF 1UTF8-CONT / %xE0-EF 2UTF8-CONT / ...
# Messages are decoded as UTF-8 with surrogateescape, so any non-ASCII code
# point (or escaped undecodable byte) stands for UTF8-NONASCII here.
UTF8_NONASCII = r"[^\x00-\x7f]"

#   qdtext         =  LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
#   quoted-pair    =  "\" (%x00-09 / %x0B-0C / %x0E-7F)
#   quoted-string  =  SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
QDTEXT = r"[ \t\x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]"
QUOTED_PAIR = r"\\[\x00-\x09\x0b\x0c\x0e-\x7f]"
QUOTED_STRING = rf"\"(?>{QDTEXT}|{QUOTED_PAIR})*+\""

# ---------------------------------------------------------------------------
# Hosts (§25.1)
# ---------------------------------------------------------------------------

#   domainlabel  =  alphanum / alphanum *( alphanum / "-" ) alphanum
#   toplabel     =  ALPHA / ALPHA *( alphanum / "-" ) alphanum
#   hostname     =  *( domainlabel "." ) toplabel [ "." ]
# Written as runs of alphanumerics joined by runs of hyphens, which is the same
# language without ambiguous backtracking. "_" is accepted inside labels:
# container and Windows host names carry it and refusing them helps nobody.
DOMAINLABEL = r"[A-Za-z0-9_]++(?:-++[A-Za-z0-9_]++)*+"
TOPLABEL = r"[A-Za-z][A-Za-z0-9_]*+(?:-++[A-Za-z0-9_]++)*+"
HOSTNAME = rf"(?:{DOMAINLABEL}\.)*{TOPLABEL}\.?"

#   IPv4address  =  1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
IPV4ADDRESS = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"

#   IPv6reference  =  "[" IPv6address "]"
#   IPv6address  =  hexpart [ ":" IPv4address ]
#   hexpart  =  hexseq / hexseq "::" [ hexseq ] / "::" [ hexseq ]
# The character set is matched here; the address itself is checked with the
# standard library's ipaddress module when a host is parsed.
IPV6ADDRESS = r"[0-9A-Fa-f:.]{2,45}"
IPV6REFERENCE = rf"\[{IPV6ADDRESS}\]"

#   host  =  hostname / IPv4address / IPv6reference
# IPv4address is tried first: a hostname's toplabel starts with a letter, so
# the two never both match a whole host.
HOST = rf"(?:{IPV4ADDRESS}|{IPV6REFERENCE}|{HOSTNAME})"

#   port  =  1*DIGIT
PORT = r"[0-9]{1,5}"

#   hostport  =  host [ ":" port ]
HOSTPORT = rf"{HOST}(?::{PORT})?"

# ---------------------------------------------------------------------------
# SIP and SIPS URIs (§19.1.1, §25.1)
# ---------------------------------------------------------------------------

#   user             =  1*( unreserved / escaped / user-unreserved )
#   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
# telephone-subscriber (RFC 3966) uses a subset of these characters, so the
# same rule covers it.
USER = rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|{ESCAPED})+"

#   password  =  *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
PASSWORD = rf"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|{ESCAPED})*"

#   param-unreserved  =  "[" / "]" / "/" / ":" / "&" / "+" / "$"
#   paramchar         =  param-unreserved / unreserved / escaped
#   pname             =  1*paramchar
#   pvalue            =  1*paramchar
#   other-param       =  pname [ "=" pvalue ]
#   uri-parameters    =  *( ";" uri-parameter)
PARAMCHAR = rf"(?:[\[\]/:&+$A-Za-z0-9\-_.!~*'()]|{ESCAPED})"
URI_PARAMETER = rf"{PARAMCHAR}+(?:={PARAMCHAR}+)?"
URI_PARAMETERS = rf"(?:;{URI_PARAMETER})*"

#   hnv-unreserved  =  "[" / "]" / "/" / "?" / ":" / "+" / "$"
#   hname           =  1*( hnv-unreserved / unreserved / escaped )
#   hvalue          =  *( hnv-unreserved / unreserved / escaped )
#   header          =  hname "=" hvalue
#   headers         =  "?" header *( "&" header )
HNV = rf"(?:[\[\]/?:+$A-Za-z0-9\-_.!~*'()]|{ESCAPED})"
URI_HEADER = rf"{HNV}+={HNV}*"
URI_HEADERS = rf"\?{URI_HEADER}(?:&{URI_HEADER})*"

#   SIP-URI   =  "sip:" [ userinfo ] hostport uri-parameters [ headers ]
#   SIPS-URI  =  "sips:" [ userinfo ] hostport uri-parameters [ headers ]
#   userinfo  =  ( user / telephone-subscriber ) [ ":" password ] "@"
# The scheme has been split off (case-insensitively) before this matches; the
# groups are user, password, host, port, parameters, headers. A user may hold
# "?" and ";", so the userinfo is found by its "@" (which no other part may
# contain) rather than by scanning for delimiters.
SIP_URI_BODY_RE = re.compile(
    rf"(?:(?P<user>{USER})(?::(?P<password>{PASSWORD}))?@)?"
    rf"(?P<host>{HOST})(?::(?P<port>{PORT}))?"
    rf"(?P<params>{URI_PARAMETERS})"
    rf"(?P<headers>{URI_HEADERS})?"
)

#   scheme  =  ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
SCHEME_RE = re.compile(SCHEME)

#   absoluteURI    =  scheme ":" ( hier-part / opaque-part )
#   hier-part      =  ( net-path / abs-path ) [ "?" query ]
#   opaque-part    =  uric-no-slash *uric
# Both alternatives are strings of uric after the colon; that is what matters
# to a UA that does not interpret the scheme.
ABSOLUTE_URI_BODY_RE = re.compile(rf"{URIC}+")

#   telephone-subscriber = global-number / local-number   (RFC 3966 §3)
#   global-number-digits = "+" *phonedigit DIGIT *phonedigit
#   local-number-digits  = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
#   visual-separator     = "-" / "." / "(" / ")"
#   par                  = parameter / extension / isdn-subaddress
TEL_NUMBER = r"\+?[0-9A-Fa-f*#\-.()]+"
TEL_URI_BODY_RE = re.compile(rf"(?P<number>{TEL_NUMBER})(?P<params>{URI_PARAMETERS})")

#   Request-URI  =  SIP-URI / SIPS-URI / absoluteURI
# (applied by uri.parse_request_uri, which also refuses URI headers there:
# §19.1.1's table does not allow them in a Request-URI)

# ---------------------------------------------------------------------------
# Start lines (§25.1)
# ---------------------------------------------------------------------------

#   Method  =  INVITEm / ACKm / OPTIONSm / BYEm / CANCELm / REGISTERm / extension-method
#   extension-method  =  token
METHOD = TOKEN
METHOD_RE = re.compile(METHOD)

#   SIP-Version  =  "SIP" "/" 1*DIGIT "." 1*DIGIT
SIP_VERSION = r"SIP/[0-9]+\.[0-9]+"

#   Request-Line  =  Method SP Request-URI SP SIP-Version CRLF
# Exactly one SP between the elements and none at the end (RFC 4475 §3.1.2.9,
# §3.1.2.10). The URI is any run of non-blank characters here and is parsed on
# its own; the version is any token so that "SIP/7.0" can get its 505.
REQUEST_LINE_RE = re.compile(rf"(?P<method>{METHOD}) (?P<uri>[^ \t]+) (?P<version>{TOKEN}/[^ \t]+)")

#   Status-Code    =  3DIGIT (Informational / Success / ... / extension-code)
#   Reason-Phrase  =  *(reserved / unreserved / escaped
#                     / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
#   Status-Line    =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
# The reason phrase is taken as any text without control characters: it is for
# humans and a strict reading gains nothing.
REASON_PHRASE = r"[^\x00-\x08\x0a-\x1f\x7f]*"
STATUS_LINE_RE = re.compile(rf"(?P<version>{SIP_VERSION}) (?P<status>[1-6][0-9][0-9]) (?P<reason>{REASON_PHRASE})")

# ---------------------------------------------------------------------------
# Header fields (§7.3, §25.1)
# ---------------------------------------------------------------------------

#   header-name  =  token
#   extension-header  =  header-name HCOLON header-value
HEADER_NAME_RE = re.compile(TOKEN)

#   generic-param  =  token [ EQUAL gen-value ]
#   gen-value      =  token / host / quoted-string
# host adds ":" "[" "]" to the token characters (IPv6 and received=).
GEN_VALUE = rf"(?:[A-Za-z0-9\-.!%*_+`'~:\[\]]+|{QUOTED_STRING})"
GENERIC_PARAM_RE = re.compile(rf"(?P<name>{TOKEN})(?:{EQUAL}(?P<value>{GEN_VALUE}))?")

#   display-name  =  *(token LWS)/ quoted-string
# A token display name may touch the "<" (RFC 4475 §3.1.1.6: LAQUOT = SWS "<").
DISPLAY_TOKENS_RE = re.compile(rf"{TOKEN}(?:{LWS}{TOKEN})*")

#   sent-protocol  =  protocol-name SLASH protocol-version SLASH transport
#   protocol-name  =  "SIP" / token
#   protocol-version  =  token
#   transport  =  "UDP" / "TCP" / "TLS" / "SCTP" / other-transport
#   sent-by    =  host [ COLON port ]
#   via-parm   =  sent-protocol LWS sent-by *( SEMI via-params )
VIA_PARM_RE = re.compile(
    rf"(?P<name>{TOKEN}){SLASH}(?P<version>{TOKEN}){SLASH}(?P<transport>{TOKEN}){LWS}"
    rf"(?P<host>{HOST})(?:{COLON}(?P<port>{PORT}))?{SWS}(?P<params>;.*)?"
)

#   CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
CSEQ_RE = re.compile(rf"(?P<number>[0-9]+){LWS}(?P<method>{METHOD})")

#   Call-ID  =  ( "Call-ID" / "i" ) HCOLON callid
#   callid   =  word [ "@" word ]
CALLID_RE = re.compile(rf"{WORD}(?:@{WORD})?")

#   Max-Forwards  =  "Max-Forwards" HCOLON 1*DIGIT
#   Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
#   delta-seconds  =  1*DIGIT
DIGITS_RE = re.compile(r"[0-9]+")

#   option-tag  =  token   (Require, Proxy-Require, Supported, Unsupported)
OPTION_TAG_RE = re.compile(TOKEN)

#   media-type     =  m-type SLASH m-subtype *(SEMI m-parameter)
#   m-type         =  discrete-type / composite-type  (token)
#   m-subtype      =  extension-token / iana-token     (token)
#   media-range    =  ( "*/*" / ( m-type SLASH "*" ) / ( m-type SLASH m-subtype ) ) *( SEMI m-parameter )
MEDIA_TYPE_RE = re.compile(rf"(?P<type>{TOKEN}){SLASH}(?P<subtype>{TOKEN}){SWS}(?P<params>;.*)?")

#   SIP-date  =  rfc1123-date
#   rfc1123-date  =  wkday "," SP date1 SP time SP "GMT"
#   date1  =  2DIGIT SP month SP 4DIGIT
#   time   =  2DIGIT ":" 2DIGIT ":" 2DIGIT
SIP_DATE_RE = re.compile(
    r"(?P<wkday>Mon|Tue|Wed|Thu|Fri|Sat|Sun), (?P<day>[0-9]{2}) "
    r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<year>[0-9]{4}) "
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2}) GMT"
)

TOKEN_RE = re.compile(TOKEN)
QUOTED_STRING_RE = re.compile(QUOTED_STRING)
HOST_RE = re.compile(HOST)
USER_RE = re.compile(USER)
ESCAPED_RE = re.compile(ESCAPED)
