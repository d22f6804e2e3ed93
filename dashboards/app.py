"""taglake's dashboards (docs/dashboards.md): `make dashboard` serves them on 127.0.0.1 from the local build.

    streamlit run dashboards/app.py -- [--target local|athena] [--database PATH] [--ttl-seconds N]

Every page reads aggregate marts through the fixed queries of taglake.ops.dashboard; none shows a customer.
"""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="taglake dashboards", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "tags.py", title="Tag populations", url_path="tags", default=True),
        st.Page(PAGES / "quality.py", title="Data quality", url_path="quality"),
        st.Page(PAGES / "models.py", title="Model history", url_path="models"),
        st.Page(PAGES / "cost.py", title="Cost", url_path="cost"),
    ]
)
navigation.run()
