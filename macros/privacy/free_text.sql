{#- Free text out of staging (a field the source YAML declares `content: free_text`): its value, or '[redacted]'
    where it looks like personal data. The shapes are the shared ones (pii_text_matches, macros/privacy/
    pii_patterns.sql); they are tried on the value as landed and on three folded forms, so that a spelling the
    shapes might not list still meets them: full-width letters, digits and punctuation turned to ASCII (as NFKC
    does, plus the dash and full-stop variants) and upper-cased; then dashes, dots and brackets removed (A123-456-789
    → A123456789, in place in longer text); then spaces, slashes and underscores removed as well (a whole value
    like 0912 345 678). Free text must also be printable ASCII: a name or an address has no shape a pattern can
    recognise (a few Han characters), so any character outside printable ASCII masks the value too (the app's page
    paths and device models are ASCII; a deep link with a typed search is withheld whole). Masked rather than
    quarantined: the event itself is valid and feeds tags; only the text is
    withheld (docs/privacy.md, "Every column out of staging"). Portable SQL over the dispatched regex macros. -#}
{% macro guarded_text(expr) -%}
    {%- set full_width = '０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ＠．－＋（）　‐‑‒–—−。＿／' -%}
    {%- set ascii = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@.-+() ------._/' -%}
    {%- set folded = "upper(translate(" ~ expr ~ ", '" ~ full_width ~ "', '" ~ ascii ~ "'))" -%}
    {%- set joined = regex_replace_all(folded, '[-.()]', '') -%}
    {%- set compact = regex_replace_all(folded, '[-. ()/_]', '') -%}
    case
        when {{ regex_matches(expr, '[^ -~]') }}
            or {{ pii_text_matches(expr) }}
            or {{ pii_text_matches(folded) }}
            or {{ pii_text_matches(joined) }}
            or {{ pii_text_matches(compact) }}
            then '[redacted]'
        else {{ expr }}
    end
{%- endmacro %}
