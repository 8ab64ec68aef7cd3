use super::*;

/// A description shaped like miniupnpd's `rootDesc.xml` (trimmed).
const DESCRIPTION: &str = r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>1</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
<serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId><controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType>
<controlURL>/ctl/PPP</controlURL></service>
<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL><SCPDURL>/WANIPCn.xml</SCPDURL></service>
</serviceList></device></deviceList></device></deviceList></device></root>"#;

fn location() -> Url {
    Url::parse("http://10.77.0.1:5000/rootDesc.xml").unwrap()
}

#[test]
fn picks_the_ip_connection_service() {
    let c = parse_description(DESCRIPTION.as_bytes(), &location()).unwrap();
    assert_eq!(c.service_type, SERVICE_TYPES[1]);
    assert_eq!(
        c.url,
        Url::parse("http://10.77.0.1:5000/ctl/IPConn").unwrap()
    );
}

#[test]
fn url_base_and_ppp_only() {
    let doc = "<root><URLBase>http://192.168.0.1:49000/</URLBase><service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>upnp/control/WANPPPConn1</controlURL></service></root>";
    let c = parse_description(doc.as_bytes(), &location()).unwrap();
    assert_eq!(c.url.port, 49000);
    assert_eq!(c.url.path, "/upnp/control/WANPPPConn1");
    assert_eq!(
        parse_description(
            b"<root><service><serviceType>x</serviceType></service></root>",
            &location()
        ),
        Err(IgdError::NoService)
    );
    assert_eq!(
        parse_description(&[0xff, 0xfe], &location()),
        Err(IgdError::NotText)
    );
}

#[test]
fn soap_requests() {
    let c = parse_description(DESCRIPTION.as_bytes(), &location()).unwrap();
    let add = String::from_utf8(c.add_port_mapping(&MappingRequest {
        protocol: Protocol::Tcp,
        external_port: 6881,
        internal_port: 6881,
        internal_client: "10.77.0.2".parse().unwrap(),
        lease: 3600,
        description: "shoal <6881>".into(),
    }))
    .unwrap();
    assert!(add.starts_with("POST /ctl/IPConn HTTP/1.1\r\nHost: 10.77.0.1:5000\r\n"));
    assert!(add.contains(
        "SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#AddPortMapping\"\r\n"
    ));
    assert!(add.contains("<u:AddPortMapping xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\"><NewRemoteHost></NewRemoteHost><NewExternalPort>6881</NewExternalPort><NewProtocol>TCP</NewProtocol><NewInternalPort>6881</NewInternalPort><NewInternalClient>10.77.0.2</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>shoal &lt;6881&gt;</NewPortMappingDescription><NewLeaseDuration>3600</NewLeaseDuration></u:AddPortMapping>"));
    let (head, body) = add.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    let del = String::from_utf8(c.delete_port_mapping(Protocol::Udp, 6881)).unwrap();
    assert!(del.contains("<NewExternalPort>6881</NewExternalPort><NewProtocol>UDP</NewProtocol></u:DeletePortMapping>"));
}

#[test]
fn answers() {
    let ok = Response {
        status: 200,
        body: br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewExternalIPAddress>203.0.113.9</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#.to_vec(),
    };
    assert_eq!(parse_external_ip(&ok), Ok("203.0.113.9".parse().unwrap()));
    let fault = Response {
        status: 500,
        body: br#"<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>725</errorCode><errorDescription>OnlyPermanentLeasesSupported</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"#.to_vec(),
    };
    assert_eq!(
        parse_action(&fault),
        Err(IgdError::Upnp {
            code: ONLY_PERMANENT_LEASES,
            description: "OnlyPermanentLeasesSupported".into()
        })
    );
    assert_eq!(
        parse_action(&Response {
            status: 404,
            body: vec![]
        }),
        Err(IgdError::Unexpected(404))
    );
    let empty = Response {
        status: 200,
        body: b"<x/>".to_vec(),
    };
    assert_eq!(parse_external_ip(&empty), Err(IgdError::Unexpected(200)));
}
