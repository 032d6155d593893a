"""Single sign-on with OpenID Connect: the city's provider proves who signs in, its groups give the roles."""
