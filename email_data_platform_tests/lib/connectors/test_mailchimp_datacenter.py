import pytest

from email_data_platform.lib.connectors.credentials import mailchimp_base_url


def test_datacenter_comes_from_the_key_suffix():
    assert mailchimp_base_url("0123456789abcdef-us21") == "https://us21.api.mailchimp.com/3.0"


@pytest.mark.parametrize("key", ["0123456789abcdef", "secret-value-", "abc-US21x"])
def test_a_key_without_datacenter_is_refused_without_echoing_it(key):
    with pytest.raises(ValueError, match="MAILCHIMP_BASE_URL") as refused:
        mailchimp_base_url(key)
    assert key not in str(refused.value)
