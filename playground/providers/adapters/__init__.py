"""One module per provider, named as the provider, each ending with `ADAPTER = <its class>`
(found by playground.providers). An adapter imports the shared modules of providers/, never
another adapter."""
