"""One generator per raw feed (customers, accounts, transactions, app events, model scores), each a TableGen."""
