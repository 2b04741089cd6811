"""One module per provider, found by the server (server.provider_modules). Each declares

    PREFIX       the path the provider is served under, e.g. "/byteplus/api/v3"
    FIELDS       the request fields its protocol accepts (independent of the adapter's)
    MODELS       the model ids it serves
    error_body   (req, kind, message, param) -> (HTTP status, JSON body, headers): its documented errors
    route        (req) -> None: answers the request (a request it leaves unanswered is a 404)

and optionally EXTRA_PLACES, {name: (prefix, route)}, for paths of another host it stands in
for (WaveSpeed's storage). docs/adding-a-provider.md has a template.
"""
